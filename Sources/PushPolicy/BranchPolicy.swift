public import PushContract

/// The whole decision for one `branch.unanswered`, in Flexisip's order: the `filter`, needsPush,
/// push parameters, strategy. `enabled` is not part of it (contract 1.1 §3): it is Flexisip's
/// switch for its own in-proxy module, which an operator sets to `false` precisely when pushes
/// move to PushFleet; a worker that obeyed it would push nothing in exactly that deployment. Pure: built once at start (the filter is
/// parsed there, so a syntax error stops the worker naming the column), then called per event.
public struct BranchPolicy: Sendable {
    public let options: PushNotificationOptions
    public let router: RouterOptions
    public let filter: FilterExpression?

    public init(options: PushNotificationOptions, router: RouterOptions) throws(FilterSyntaxError) {
        self.options = options
        self.router = router
        let source = String(Substring(options.filter).trimmingASCIIWhitespace())
        filter = source.isEmpty ? nil : try FilterExpression(parsing: source)
    }

    /// What the worker says once at start-up when `enabled=false` (Flexisip's default too):
    /// the key is read and kept (config dump/check show it) but does not stop the pushes, and
    /// an operator who set it to stop them must learn how to (stop the workers).
    public var startupNotice: String? {
        options.enabled ? nil : "[module::PushNotification] enabled=false switches off Flexisip's in-proxy module, not PushFleet workers: this worker pushes anyway (to stop pushes, stop the workers)"
    }

    /// Push requests for the branch, or why none: every refusal names its rule.
    public func decide(_ event: BranchUnanswered) -> PushDecision {
        if let filter, !filter.evaluate(event) {
            return .skipped(reason: OutcomeReason(.filter, "filter is false: \(filter.source)"))
        }
        return PushStrategy.decide(event, options: options, router: router)
    }
}
