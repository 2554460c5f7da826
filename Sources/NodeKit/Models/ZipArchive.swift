import Crypto
import CrynuxSDK
import Foundation
import ZIPFoundation

/// A read-only view of a ZIP archive (a Python wheel) through ZIPFoundation: its members, and streaming extraction
/// of one of them (stored or deflated) that hashes what it writes and checks the size and CRC-32 the archive records.
public struct ZipArchive: Sendable {
    /// One member of the archive.
    public struct Entry: Sendable, Hashable {
        /// Its path inside the archive.
        public var name: String
        /// 0 stored, 8 deflated.
        public var method: UInt16
        /// Bytes in the archive.
        public var compressedSize: UInt64
        /// Bytes once extracted.
        public var size: UInt64
        /// CRC-32 of the extracted bytes.
        public var crc32: UInt32
    }

    /// The archive's path.
    public let path: String
    /// Its members, in central-directory order.
    public let entries: [Entry]

    /// Reads the central directory of the archive at `path`.
    public init(path: String) throws(ModelStoreError) {
        self.path = path
        let archive = try Self.open(path)
        entries = archive.map { e in
            Entry(name: e.path, method: e.isCompressed ? 8 : 0, compressedSize: e.compressedSize, size: e.uncompressedSize, crc32: e.checksum)
        }
    }

    /// Extracts member `name` to `destination` (created or truncated), reporting bytes written; returns the SHA-256
    /// of the extracted bytes (lowercase hex). A size or CRC-32 other than the archive records is an error.
    @discardableResult
    public func extract(_ name: String, to destination: String, progress: (UInt64) -> Void = { _ in }) throws(ModelStoreError) -> String {
        let archive = try Self.open(path)
        guard let entry = archive[name], entry.type == .file else { throw ModelStoreError("\(path) has no member \(name)") }
        guard FileManager.default.createFile(atPath: destination, contents: nil), let out = FileHandle(forWritingAtPath: destination) else {
            throw ModelStoreError("cannot write \(destination)")
        }
        defer { try? out.close() }
        var hasher = SHA256()
        var written: UInt64 = 0
        let expected = entry.uncompressedSize
        let crc: UInt32
        do {
            crc = try archive.extract(entry, bufferSize: 1 << 20) { data in
                written += UInt64(data.count)
                guard written <= expected else { throw ModelStoreError("\(name) inflates past its recorded size") }
                hasher.update(data: data)
                try out.write(contentsOf: data)
                progress(written)
            }
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw ModelStoreError("\(path): \(name) cannot be extracted: \(error)")
        }
        guard written == expected else { throw ModelStoreError("\(name) is truncated: \(written) of \(expected) bytes") }
        guard crc == entry.checksum else { throw ModelStoreError("\(name) fails its CRC-32 check") }
        return Hex.encode(Array(hasher.finalize()))
    }

    static func open(_ path: String) throws(ModelStoreError) -> Archive {
        guard FileManager.default.fileExists(atPath: path) else { throw ModelStoreError("cannot open \(path)") }
        do { return try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw ModelStoreError("\(path) is not a ZIP archive (\(error))")
        }
    }
}
