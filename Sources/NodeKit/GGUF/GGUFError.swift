/// Why a GGUF file could not be read.
public struct GGUFError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, in words.
    public var message: String
    /// The byte offset where reading stopped, when known.
    public var offset: Int?

    /// Creates an error.
    public init(_ message: String, offset: Int? = nil) {
        self.message = message
        self.offset = offset
    }

    /// `message (at byte N)`.
    public var description: String { offset.map { "\(message) (at byte \($0))" } ?? message }
}
