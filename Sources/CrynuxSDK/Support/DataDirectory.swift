import Foundation

/// Where the `crynux` tools keep their state.
public enum DataDirectory {
    /// `$XDG_DATA_HOME/crynux/<component>`, or `~/.local/share/crynux/<component>`.
    public static func path(_ component: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        return base + "/crynux/" + component
    }
}
