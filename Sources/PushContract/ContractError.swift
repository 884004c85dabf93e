/// Why a record was rejected: which field, and what is wrong with it.
///
/// The `description` is what goes into a dead-letter record's `error`, so it always names the
/// field (`$` for the record as a whole).
public struct ContractError: Error, Sendable, Hashable, CustomStringConvertible {
    /// JSON path of the offending field, e.g. `from.uri`; `$` for the whole record.
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { field == "$" ? problem : "\(field): \(problem)" }
}
