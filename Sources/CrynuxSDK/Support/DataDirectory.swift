import Foundation

/// Where the `crynux` tools keep their state.
public enum DataDirectory {
    /// `$XDG_DATA_HOME/crynux/<component>`, or `~/.local/share/crynux/<component>`, with `XDG_DATA_HOME` taken from
    /// `environment` (the caller's; pass `ProcessInfo.processInfo.environment` at an entry point).
    public static func path(_ component: String, environment: [String: String]) -> String {
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        return base + "/crynux/" + component
    }
}
