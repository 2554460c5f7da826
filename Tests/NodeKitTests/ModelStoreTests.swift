import Foundation
import Testing
@testable import NodeKit

@Suite struct ModelStoreTests {
    static var sample: String { Bundle.module.url(forResource: "sample", withExtension: "whl", subdirectory: "Fixtures")!.path }

    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func extractsDeflatedAndStoredMembersWithTheirHashes() throws {
        let archive = try ZipArchive(path: Self.sample)
        #expect(archive.entries.map(\.name) == ["pkg/data.txt", "pkg/stored.txt"])
        #expect(archive.entries.map(\.method) == [8, 0])
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var last: UInt64 = 0
        let hash = try archive.extract("pkg/data.txt", to: dir + "/data.txt") { last = $0 }
        #expect(hash == "0d8a9c0e9b886eef0fa50366ef96e7289f7f79c7824ba0b58ffd8651cd927cc4")
        #expect(last == 339_675)
        #expect(try archive.extract("pkg/stored.txt", to: dir + "/s.txt") == "76a4dce5690f3eff24a6375e51841122269b48a773bbbc8eae0b47a89ac70fd7")
        #expect(try ModelStore.sha256(of: dir + "/data.txt") == hash)
        #expect(throws: ModelStoreError.self) { _ = try archive.extract("missing", to: dir + "/x") }
    }

    @Test func corruptArchivesAreErrorsNotCrashes() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.sample)))
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Truncated anywhere: the directory is gone or points past the end.
        for cut in [0, 10, 100, bytes.count / 2, bytes.count - 30] {
            let path = dir + "/cut-\(cut).whl"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<cut]))
            #expect(throws: ModelStoreError.self) { _ = try ZipArchive(path: path).extract("pkg/data.txt", to: dir + "/out") }
        }
        // Damaged compressed data: zlib or the CRC check refuses it.
        var damaged = bytes
        for i in stride(from: 200, to: 60_000, by: 997) { damaged[i] ^= 0x5A }
        let path = dir + "/damaged.whl"
        _ = FileManager.default.createFile(atPath: path, contents: Data(damaged))
        #expect(throws: ModelStoreError.self) { _ = try ZipArchive(path: path).extract("pkg/data.txt", to: dir + "/out") }
    }

    @Test func theManifestNamesEachFilesModelAndAFileAlreadyThereIsOnlyVerified() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ModelStore(directory: dir)
        #expect(try store.manifest().files.isEmpty)
        _ = FileManager.default.createFile(atPath: dir + "/tiny.gguf", contents: Data("not really a model".utf8))
        var model = CatalogModel.bundled
        model.fileName = "tiny.gguf"
        model.modelID = "example/tiny"
        model.sha256 = try ModelStore.sha256(of: dir + "/tiny.gguf")
        // The index is unusable: a verified file must not need it.
        let path = try await store.fetch(model, index: "unsupported-scheme://index")
        #expect(path == dir + "/tiny.gguf")
        #expect(store.path(for: "example/tiny") == path && store.path(for: "other/model") == nil)
        try store.record(.init(file: "tiny.gguf", modelID: "example/tiny", sha256: model.sha256, source: "test"))
        try store.record(.init(file: "b.gguf", modelID: "example/b", sha256: "00", source: "test"))
        #expect(try store.manifest().files.map(\.file) == ["tiny.gguf", "b.gguf"])
        #expect(store.path(for: "example/b") == nil)  // listed but not on disk
        // A damaged file is fetched again; with no usable index that is a clear error and nothing is half-written.
        _ = FileManager.default.createFile(atPath: dir + "/tiny.gguf", contents: Data("changed".utf8))
        await #expect(throws: ModelStoreError.self) { _ = try await store.fetch(model, index: "unsupported-scheme://index") }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".part") }
        #expect(leftovers.isEmpty)
    }
}
