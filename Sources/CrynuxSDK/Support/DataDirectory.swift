import Foundation

/// Where the `crynux` tools keep their state.
public enum DataDirectory {
    /// `$XDG_DATA_HOME/crynux/<component>`, or `~/.local/share/crynux/<component>`, with `XDG_DATA_HOME` taken from
    /// `environment` (the caller's; pass `ProcessInfo.processInfo.environment` at an entry point).
    public static func path(_ component: String, environment: [String: String]) -> String {
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        return base + "/crynux/" + component
    }

    /// Creates `path` (and its parents) if needed and makes it private to its owner (0700) every time, so a folder
    /// made by hand or by an older version does not stay readable by others.
    public static func makePrivate(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
    }

    /// Writes `contents` to a new file at `path` readable by its owner only (0600), failing if it exists.
    public static func writeSecret(_ contents: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
    }
}
