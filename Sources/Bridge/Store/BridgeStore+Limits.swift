import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeStore.Limits {
    /// Parses an expiry: `+90s`, `+30m`, `+12h`, `+7d` (from now), Unix seconds, or an ISO 8601 date-time.
    public static func parseExpiry(_ text: String, now: Int = Int(Date().timeIntervalSince1970)) -> Int? {
        if text.hasPrefix("+"), let unit = text.last, let n = Int(text.dropFirst().dropLast()), n >= 0 {
            switch unit {
            case "s": return now + n
            case "m": return now + n * 60
            case "h": return now + n * 3600
            case "d": return now + n * 86400
            default: return nil
            }
        }
        if let seconds = Int(text), seconds > 0 { return seconds }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return Int(date.timeIntervalSince1970) }
        iso.formatOptions = [.withFullDate]
        return iso.date(from: text).map { Int($0.timeIntervalSince1970) }
    }

    /// Applies the limit fields present in an admin API body (`budget_cnx`, `rpm`, `tpm`, `models`, `expires_at`;
    /// `null` clears one), or says which field is wrong. `crynux keys` goes through it too.
    public mutating func apply(_ body: JSONValue) throws(OpenAIError) {
        func positive(_ key: String) throws(OpenAIError) -> Int?? {
            guard let v = body[key] else { return .none }
            if v == .null { return .some(nil) }
            guard let d = v.doubleValue, let i = Int(exactly: d), i >= 1 else { throw .invalid(key, "\(key) must be a positive integer or null.") }
            return .some(i)
        }
        if let v = body["budget_cnx"] {
            if v == .null {
                budget = nil
            } else {
                guard let text = v.stringValue ?? (v.doubleValue != nil ? v.compactText : nil), let wei = Wei(cnx: text) else {
                    throw .invalid("budget_cnx", "budget_cnx must be a CNX amount such as \"25\" or \"0.5\", or null.")
                }
                budget = wei
            }
        }
        if let v = try positive("rpm") { rpm = v }
        if let v = try positive("tpm") { tpm = v }
        if let v = body["models"] {
            switch v {
            case .null: models = nil
            case .array(let items) where items.allSatisfy({ $0.stringValue?.isEmpty == false }): models = items.compactMap(\.stringValue)
            default: throw .invalid("models", "models must be an array of model ids, or null.")
            }
        }
        if let v = body["expires_at"] {
            if v == .null {
                expires = nil
            } else {
                guard let at = v.stringValue.flatMap({ Self.parseExpiry($0) }) ?? v.doubleValue.flatMap({ Int(exactly: $0) }) else {
                    throw .invalid("expires_at", "expires_at is Unix seconds, an ISO 8601 date-time, +N{s,m,h,d}, or null.")
                }
                expires = at
            }
        }
    }
}
