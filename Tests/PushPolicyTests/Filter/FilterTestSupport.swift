import Testing
import PushPolicy

/// A subject whose variables are given literally; absent keys are undefined.
struct DictionarySubject: FilterSubject {
    var values: [FilterVariable: String]

    init(_ values: [FilterVariable: String] = [:]) { self.values = values }

    func filterValue(_ variable: FilterVariable) -> String? { values[variable] }
}

/// Parses and evaluates, turning a syntax error into a readable test failure.
func eval(_ text: String, _ subject: DictionarySubject = DictionarySubject()) throws -> Bool {
    try FilterExpression(parsing: text).evaluate(subject)
}

func syntaxError(_ text: String) -> FilterSyntaxError? {
    do {
        _ = try FilterExpression(parsing: text)
        return nil
    } catch {
        return error
    }
}

/// A filter and the value it must evaluate to.
struct FilterCase: CustomTestStringConvertible, Sendable {
    var filter: String
    var expected: Bool
    var testDescription: String { "\(filter) → \(expected)" }
}
