import CZlib
import Crypto
import CrynuxSDK
import Foundation

/// A read-only view of a ZIP archive (a Python wheel): its central directory, and streaming extraction of
/// one member (stored or deflated) through the system zlib, hashing what it writes.
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
        /// Where its local header starts.
        public var localHeaderOffset: UInt64
    }

    /// The archive's path.
    public let path: String
    /// Its members, in central-directory order.
    public let entries: [Entry]

    /// Reads the central directory of the archive at `path`.
    public init(path: String) throws(ModelStoreError) {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ModelStoreError("cannot open \(path)") }
        defer { try? handle.close() }
        let fileSize: UInt64
        do { fileSize = try handle.seekToEnd() } catch { throw ModelStoreError("cannot read \(path)") }
        // The end-of-central-directory record is in the last 22 + 65535 bytes.
        let tailLength = min(fileSize, 22 + 65_535)
        let tail = try Self.read(handle, at: fileSize - tailLength, count: Int(tailLength), path)
        guard tail.count >= 22, let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: { Self.u32(tail, $0) == 0x0605_4B50 })
        else { throw ModelStoreError("\(path) is not a ZIP archive") }
        let count = Int(Self.u16(tail, eocd + 10))
        let directorySize = UInt64(Self.u32(tail, eocd + 12)), directoryOffset = UInt64(Self.u32(tail, eocd + 16))
        guard directorySize != 0xFFFF_FFFF, directoryOffset != 0xFFFF_FFFF, count != 0xFFFF else {
            throw ModelStoreError("\(path) is a ZIP64 archive, which is not supported")
        }
        guard directoryOffset + directorySize <= fileSize, directorySize <= 16 << 20 else {
            throw ModelStoreError("\(path) has a corrupt central directory")
        }
        let directory = try Self.read(handle, at: directoryOffset, count: Int(directorySize), path)
        var entries: [Entry] = []
        var p = 0
        for _ in 0..<count {
            guard p + 46 <= directory.count, Self.u32(directory, p) == 0x0201_4B50 else {
                throw ModelStoreError("\(path) has a corrupt central directory")
            }
            let nameLength = Int(Self.u16(directory, p + 28)), extra = Int(Self.u16(directory, p + 30)), comment = Int(Self.u16(directory, p + 32))
            guard p + 46 + nameLength <= directory.count else { throw ModelStoreError("\(path) has a corrupt central directory") }
            let entry = Entry(
                name: String(decoding: directory[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self), method: Self.u16(directory, p + 10),
                compressedSize: UInt64(Self.u32(directory, p + 20)), size: UInt64(Self.u32(directory, p + 24)),
                crc32: Self.u32(directory, p + 16), localHeaderOffset: UInt64(Self.u32(directory, p + 42)))
            guard entry.localHeaderOffset + 30 + entry.compressedSize <= fileSize else {
                throw ModelStoreError("\(path): member \(entry.name) lies past the end of the archive")
            }
            entries.append(entry)
            p += 46 + nameLength + extra + comment
        }
        self.entries = entries
    }

    /// Extracts `name` to `destination` (created or replaced), checking its size and CRC-32, and returns the
    /// SHA-256 of the extracted bytes as lowercase hex. `progress` sees bytes written so far.
    public func extract(_ name: String, to destination: String, progress: (UInt64) -> Void = { _ in }) throws(ModelStoreError) -> String {
        guard let entry = entries.first(where: { $0.name == name }) else { throw ModelStoreError("\(path) has no member \(name)") }
        guard entry.method == 0 || entry.method == 8 else { throw ModelStoreError("\(name) uses ZIP method \(entry.method), not stored or deflate") }
        guard let input = FileHandle(forReadingAtPath: path) else { throw ModelStoreError("cannot open \(path)") }
        defer { try? input.close() }
        let local = try Self.read(input, at: entry.localHeaderOffset, count: 30, path)
        guard Self.u32(local, 0) == 0x0403_4B50 else { throw ModelStoreError("\(path): bad local header for \(name)") }
        let dataStart = entry.localHeaderOffset + 30 + UInt64(Self.u16(local, 26)) + UInt64(Self.u16(local, 28))
        guard FileManager.default.createFile(atPath: destination, contents: nil), let output = FileHandle(forWritingAtPath: destination) else {
            throw ModelStoreError("cannot write \(destination)")
        }
        defer { try? output.close() }
        do { try input.seek(toOffset: dataStart) } catch { throw ModelStoreError("cannot read \(path)") }
        var hasher = SHA256()
        var crc: UInt = crc32(0, nil, 0)
        var written: UInt64 = 0
        func emit(_ data: Data) throws(ModelStoreError) {
            guard !data.isEmpty else { return }
            hasher.update(data: data)
            crc = data.withUnsafeBytes { crc32(crc, $0.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
            do { try output.write(contentsOf: data) } catch { throw ModelStoreError("cannot write \(destination): \(error)") }
            written += UInt64(data.count)
            progress(written)
        }
        var remaining = entry.compressedSize
        let chunk = 1 << 20
        if entry.method == 0 {
            while remaining > 0 {
                let data = try Self.next(input, Int(min(remaining, UInt64(chunk))), path)
                remaining -= UInt64(data.count)
                try emit(data)
            }
        } else {
            var stream = z_stream()
            guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw ModelStoreError("zlib failed to start")
            }
            defer { inflateEnd(&stream) }
            var out = [UInt8](repeating: 0, count: chunk)
            var finished = false
            while !finished {
                guard remaining > 0 else { throw ModelStoreError("\(name) is truncated in \(path)") }
                var data = try Self.next(input, Int(min(remaining, UInt64(chunk))), path)
                remaining -= UInt64(data.count)
                let count = data.count
                var pieces: [Data] = []
                var failure: Int32?
                data.withUnsafeMutableBytes { (inRaw: UnsafeMutableRawBufferPointer) in
                    stream.next_in = inRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(count)
                    // Inflate until zlib leaves room in the output buffer: then it has used all this input.
                    repeat {
                        let status = out.withUnsafeMutableBytes { outRaw -> Int32 in
                            stream.next_out = outRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                            stream.avail_out = uInt(chunk)
                            return inflate(&stream, Z_NO_FLUSH)
                        }
                        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                            failure = status
                            return
                        }
                        pieces.append(Data(out[0..<(chunk - Int(stream.avail_out))]))
                        if status == Z_STREAM_END { finished = true }
                    } while stream.avail_out == 0 && !finished
                }
                if let failure { throw ModelStoreError("\(name) in \(path) is corrupt (zlib status \(failure))") }
                for piece in pieces { try emit(piece) }
            }
        }
        guard written == entry.size, UInt32(truncatingIfNeeded: crc) == entry.crc32 else {
            throw ModelStoreError("\(name) in \(path) fails its size or CRC-32 check")
        }
        return Hex.encode(hasher.finalize())
    }

    static func u16(_ d: [UInt8], _ i: Int) -> UInt16 { UInt16(d[i]) | UInt16(d[i + 1]) << 8 }
    static func u32(_ d: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(d, i)) | UInt32(u16(d, i + 2)) << 16 }

    static func read(_ handle: FileHandle, at offset: UInt64, count: Int, _ path: String) throws(ModelStoreError) -> [UInt8] {
        do {
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: count) ?? Data()
            guard data.count == count else { throw ModelStoreError("\(path) is truncated") }
            return Array(data)
        } catch let error as ModelStoreError {
            throw error
        } catch {
            throw ModelStoreError("cannot read \(path): \(error)")
        }
    }

    static func next(_ handle: FileHandle, _ count: Int, _ path: String) throws(ModelStoreError) -> Data {
        let data: Data?
        do { data = try handle.read(upToCount: count) } catch { throw ModelStoreError("cannot read \(path): \(error)") }
        guard let data, !data.isEmpty else { throw ModelStoreError("\(path) is truncated") }
        return data
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
