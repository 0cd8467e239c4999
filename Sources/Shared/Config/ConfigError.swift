/// Why a configuration file was refused: the message names the file and the key.
package struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
