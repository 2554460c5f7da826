import CrynuxSDK
import Crypto
import Foundation

/// The signed messages the relay accepted within the signature window, so that a signature works once for a
/// change and never on an endpoint it was not made for.
///
/// The public network signs only the fields of a request, so one signature fits every endpoint whose fields
/// are the same (pause, resume, quit and the balance query all sign `{"address"}`), and a signature stays valid
/// for the whole ±60 s window. The payloads stay as the network defines them; instead the relay remembers each
/// accepted (signer, payload, timestamp) until its timestamp leaves the window, and:
/// - a read (a GET) accepts any valid signature, again and again: polling in one second repeats a signature,
///   and a read changes nothing;
/// - a write refuses a message already used by any write, and one already seen on a read (the balance query's
///   signature travels in a URL), except where the write's payload is by definition the same as a read's by the
///   same signer (a node's result upload and its own task read, both `{"task_id_commitment"}`): an upload is
///   checked against the score the node committed, so accepting it changes nothing an attacker could choose.
final class ReplayGuard: @unchecked Sendable {
    /// How an endpoint uses a signature.
    enum Use: Sendable {
        /// A read: reuse allowed.
        case read
        /// A change: the message is used once, and never after a read.
        case write
        /// A change whose payload equals a read's by the same signer: used once, allowed after such a read.
        case writeAfterRead
    }

    private struct Key: Hashable { let high: UInt64, low: UInt64 }
    private struct Entry { var written: Bool; let timestamp: Int64 }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var buckets: [Int64: [Key]] = [:]
    /// The most messages remembered at once; beyond it writes are refused with 429 until the window moves on.
    let capacity: Int
    /// Seconds a timestamp stays valid on either side of now.
    let tolerance: Int64

    /// A guard for `tolerance` seconds either side of now holding at most `capacity` messages.
    init(tolerance: Int64 = RelaySignatureVerifier.defaultTolerance, capacity: Int = 1_000_000) {
        self.tolerance = tolerance
        self.capacity = capacity
    }

    /// The number of messages remembered now.
    var count: Int { lock.withLock { entries.count } }

    /// Admits the message `canonical` at `timestamp` signed by `signer` for `use`, or throws why not.
    func admit(signer: String, canonical: String, timestamp: Int64, use: Use, now: Int64) throws(RelayError) {
        var hasher = SHA256()
        hasher.update(data: Array(signer.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(String(timestamp).utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(canonical.utf8))
        let digest = Array(hasher.finalize())
        let key = Key(
            high: digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        let refusal: RelayError? = lock.withLock {
            prune(before: now - tolerance)
            if let entry = entries[key] {
                switch use {
                case .read: return nil
                case .write: return .validation("signature", "Signature already used")
                case .writeAfterRead:
                    if entry.written { return .validation("signature", "Signature already used") }
                    entries[key]?.written = true
                    return nil
                }
            }
            guard entries.count < capacity else { return .busy("Too many signed requests in the signature window; try again shortly") }
            entries[key] = Entry(written: use != .read, timestamp: timestamp)
            buckets[timestamp, default: []].append(key)
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Forgets messages whose timestamp is before `cutoff` (they can no longer be presented).
    private func prune(before cutoff: Int64) {
        guard let oldest = buckets.keys.min(), oldest < cutoff else { return }
        for stamp in buckets.keys where stamp < cutoff {
            for key in buckets.removeValue(forKey: stamp) ?? [] { entries.removeValue(forKey: key) }
        }
    }
}
