import Testing

@testable import PushPolicy

@Suite("FlexisipINI syntax")
struct FlexisipINITests {
    @Test func commentsBlanksAndWhitespace() throws {
        let ini = try FlexisipINI.parse(
            """
            # whole-line comment
               # indented comment
            [ kafka ]   # comment after a header

              group-id   =   fleet one
            events-topic=a=b
            empty=
            """)
        let kafka = try #require(ini.section("kafka"))
        #expect(kafka.entries.map(\.key) == ["group-id", "events-topic", "empty"])
        #expect(kafka.entries.map(\.value) == ["fleet one", "a=b", ""])
        #expect(kafka.entries.map(\.line) == [5, 6, 7])
    }

    @Test func trailingHashIsPartOfTheValue() throws {
        // Flexisip has no trailing comments; the typed option then rejects the value.
        let ini = try FlexisipINI.parse("[s]\nk=5 # seconds\n")
        #expect(ini.section("s")?.entry("k")?.value == "5 # seconds")
    }

    @Test func crlfBomAndNoTrailingNewline() throws {
        let ini = try FlexisipINI.parse("\u{FEFF}[s]\r\na=1\r\nb=2")
        #expect(ini.section("s")?.entries.map(\.value) == ["1", "2"])
        #expect(ini.section("s")?.entry("b")?.line == 3)
    }

    @Test func namesMatchCaseInsensitivelyAndRepeatsMerge() throws {
        let ini = try FlexisipINI.parse(
            """
            [Module::PushNotification]
            Timeout=1
            other=x
            [module::pushnotification]
            timeout=2
            """)
        #expect(ini.sections.count == 1)
        let section = try #require(ini.section("module::PushNotification"))
        #expect(section.name == "Module::PushNotification")
        // Last value wins and keeps the first position, as Flexisip's lpconfig.
        #expect(section.entries.map(\.key) == ["Timeout", "other"])
        #expect(section.entry("timeout")?.value == "2")
        #expect(section.entry("timeout")?.line == 5)
    }

    @Test func malformedLinesAreRecordedPerSection() throws {
        let ini = try FlexisipINI.parse("stray\n[a]\nno equals sign\n=novalue\n[b]\nk=v\n")
        #expect(ini.section("")?.malformedLines == [1])
        #expect(ini.section("a")?.malformedLines == [3, 4])
        #expect(ini.section("b")?.malformedLines == [])
    }

    @Test(arguments: [
        ("[a]\nk=v\0x\n", "line 2: line contains a NUL byte"),
        ("[a]\nk=\u{1B}[31m\n", "line 2: line contains control character \\u{1b}"),
        ("[a\nk=v\n", "line 1: section header [a has no closing ]"),
        ("[]\n", "line 1: empty section name []"),
        ("[a] b\n", "line 1: unexpected text b after section header"),
    ])
    func syntaxErrorsNameTheLine(text: String, message: String) {
        #expect(throws: ConfigError.self) { try FlexisipINI.parse(text) }
        do {
            _ = try FlexisipINI.parse(text)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func hugeLinesAreRejectedNotSplit() throws {
        let long = "[a]\nk=" + String(repeating: "x", count: FlexisipINI.maxLineLength) + "\n"
        do {
            _ = try FlexisipINI.parse(long)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "line 2: line is longer than 65536 bytes")
        }
        let fits = "[a]\nk=" + String(repeating: "y", count: FlexisipINI.maxLineLength - 2)
        #expect(try FlexisipINI.parse(fits).section("a")?.entry("k")?.value.utf8.count == FlexisipINI.maxLineLength - 2)
    }

    @Test func manyLinesParseInOrder() throws {
        var text = "[s]\n"
        for i in 0..<20_000 { text += "k\(i)=\(i)\n" }
        let section = try #require(try FlexisipINI.parse(text).section("s"))
        #expect(section.entries.count == 20_000)
        #expect(section.entries.last?.value == "19999")
    }
}
