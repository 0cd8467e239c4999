/// Why `JSONValue.parse` refused its input, worded as lua-cjson words it (the Admin API returns
/// these texts: `invalid request body: Expected value but found invalid token at character 1`).
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The cjson-style text, e.g. `Expected comma or object end but found T_END at character 7`.
    package var message: String
    /// 1-based byte position the message names.
    package var character: Int

    /// An error with `message` naming 1-based byte `character`.
    package init(message: String, character: Int) {
        self.message = message; self.character = character
    }
    package var description: String { message }
}
