import ArgumentParser
import CrynuxSDK
import Foundation

/// The `crynux` command: each subcommand parses its arguments, then calls one library function.
struct Crynux: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crynux",
        abstract: "The Crynux Network in Swift: the OpenAI-compatible Bridge, a relay, a node with its own engine, wallets and protocol tools.",
        subcommands: [
            ServeCommand.self, ChatCommand.self, Keys.self, RelayCommand.self, NodeCommand.self, NodeControl.self, Model.self, Generate.self,
            Tokenize.self, Template.self, Wallet.self, Tools.self, Bench.self,
        ])
}

// Bad input of any kind exits with status 2 and one line on stderr, failed work with 1; --help and --version exit 0.
do {
    var command = try Crynux.parseAsRoot()
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch let error as CLIError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    exit(error.exitCode)
} catch let error as ToolError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    exit(error.kind == .failed ? 1 : 2)
} catch {
    if Crynux.exitCode(for: error) == .success { Crynux.exit(withError: error) }  // --help, --version
    let message = Crynux.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
    FileHandle.standardError.write(Data("error: \(message) (see --help)\n".utf8))
    exit(2)
}
