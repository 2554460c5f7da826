import Foundation

/// Golden-vector files more than one test target reads (byte-identical copies of the shared vectors; see
/// docs/vectors.md), kept once here: the relay signing vectors and the pHash PNGs with their hashes.
public enum SharedFixtures {
    /// The URL of `Fixtures/<name>`, e.g. `relay-signing.json` or `phash/circles_64_rgb.png`.
    public static func url(_ name: String) -> URL? {
        Bundle.module.resourceURL?.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    /// The bytes of `Fixtures/<name>`.
    public static func bytes(_ name: String) throws -> [UInt8] {
        guard let url = url(name), let data = try? Data(contentsOf: url) else { throw SharedFixtureMissing(name: name) }
        return Array(data)
    }
}

/// A shared fixture that is not in the test bundle.
public struct SharedFixtureMissing: Error, CustomStringConvertible {
    /// The fixture's name.
    public var name: String
    /// The message.
    public var description: String { "the shared fixture \(name) is missing" }
}

/// The bundled model as `make test` provides it: `CRYNUX_MODEL_PATH`, else the file in the model folder
/// (`CRYNUX_MODEL_DIR`, else `$XDG_DATA_HOME/crynux/models`, else `~/.local/share/crynux/models`).
public enum BundledModel {
    /// The GGUF's path.
    public static let path: String = {
        let env = ProcessInfo.processInfo.environment
        if let p = env["CRYNUX_MODEL_PATH"] { return p }
        let base = env["CRYNUX_MODEL_DIR"] ?? ((env["XDG_DATA_HOME"] ?? (NSHomeDirectory() + "/.local/share")) + "/crynux/models")
        return base + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    }()
    /// Its Hugging Face id.
    public static let huggingFaceID = "HuggingFaceTB/SmolLM2-135M-Instruct"
    /// The base model id tasks name it by.
    public static let modelID = "base:huggingfacetb/smollm2-135m-instruct"
    /// Whether the file is there.
    public static var isPresent: Bool { FileManager.default.fileExists(atPath: path) }
}
