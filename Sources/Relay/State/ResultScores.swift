import CrynuxSDK
import Crypto

/// How the relay recomputes a result's score from the uploaded files (docs/protocol.md §4).
public enum ResultScores {
    /// `0x` + SHA-256 of `0.json`, the LLM score.
    public static func llm(_ files: [[UInt8]]) throws(RelayError) -> String {
        guard files.count == 1 else { throw .validation("files", "an LLM result is exactly one file") }
        return "0x" + Hex.encode(SHA256.hash(data: files[0]))
    }

    /// `0x` + each PNG's 8-byte pHash in order, the SD score (bit-exact with the Go relay).
    public static func images(_ files: [[UInt8]]) throws(RelayError) -> String {
        do { return try PerceptionHash.score(pngs: files) } catch { throw .validation("files", "\(error)") }
    }

    /// The score of a result of `type`.
    public static func score(_ type: TaskType, _ files: [[UInt8]]) throws(RelayError) -> String {
        type == .llm ? try llm(files) : try images(files)
    }
}
