public import PushContract

/// The whole decision for one `branch.unanswered`, in Flexisip's order: module enabled, the
/// `filter`, needsPush, push parameters, strategy. Pure: built once at start (the filter is
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

    /// Push requests for the branch, or why none: every refusal names its rule.
    public func decide(_ event: BranchUnanswered) -> PushDecision {
        guard options.enabled else {
            return .skipped(reason: "the PushNotification module is disabled ([module::PushNotification] enabled=false)")
        }
        if let filter, !filter.evaluate(event) {
            return .skipped(reason: "filter is false: \(filter.source)")
        }
        return PushStrategy.decide(event, options: options, router: router)
    }
}
