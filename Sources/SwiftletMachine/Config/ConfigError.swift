/// A configuration mistake, as the one line a user sees: "--block: ..." on the command
/// line, "drives: ..." in the API. Every front end rejects the same input with the same
/// words, because they all parse through `ConfigParsing`.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
