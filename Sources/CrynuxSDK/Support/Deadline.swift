import NIOCore

/// Why a request body could not be read.
public enum BodyReadError: Error, Sendable, Hashable {
    /// It was longer than the limit.
    case tooLarge
    /// It had not all arrived by the deadline.
    case tooSlow
}

/// Collects `body` up to `limit` bytes, refusing it once `deadline` has passed: checked as each chunk arrives, so a
/// client dribbling a body is cut off at its next chunk after the deadline (and a silent one by the server's idle
/// timeout). No extra task: the reading happens on the caller's.
public func collectBody<Body: AsyncSequence>(_ body: Body, limit: Int, deadline: ContinuousClock.Instant) async throws -> ByteBuffer
where Body.Element == ByteBuffer {
    var buffer = ByteBuffer()
    for try await chunk in body {
        guard ContinuousClock.now <= deadline else { throw BodyReadError.tooSlow }
        guard chunk.readableBytes <= limit - buffer.readableBytes else { throw BodyReadError.tooLarge }
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }
    return buffer
}
