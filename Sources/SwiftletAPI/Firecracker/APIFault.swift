import SwiftletMachine

/// A refused request: the one line that becomes {"fault_message": ...} in a 400, or a
/// config file's error.
public struct APIFault: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
    public init(_ error: ConfigError) { self.description = error.description }
    public init(_ error: VMError) { self.description = error.description }
}

/// Runs a shared `ConfigParsing` check, its error becoming the API's.
func checked<T>(_ body: () throws(ConfigError) -> T) throws(APIFault) -> T {
    do { return try body() } catch { throw APIFault(error) }
}
