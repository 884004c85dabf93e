/// Why a filter expression was rejected at startup, and where.
///
/// The column lets an operator find the mistake in a long `filter = …` line without
/// bisecting it; Flexisip only quotes the remaining text.
public struct FilterSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based column, counted in Unicode scalars of the expression text.
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "filter: column \(column): \(message)" }
}
