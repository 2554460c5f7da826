import ArgumentParser
import CrynuxSDK
import Foundation

/// A failed `crynux` command: one line for stderr and the exit status (2: bad input, 1: the work failed).
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }
    var description: String { message }
}

/// Runs an async subcommand (opening the existential picks its `async` `run`).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

/// Standard input, bounded so a runaway pipe cannot exhaust memory.
func readStdin(limit: Int = 64 << 20) throws -> [UInt8] {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard data.count <= limit else { throw CLIError("stdin is larger than \(limit >> 20) MiB") }
    return Array(data)
}

/// Prints a line of the command's output.
func emit(_ text: String) { print(text) }

/// The process environment, read once here at the entry point (libraries take it as an argument).
let environment = ProcessInfo.processInfo.environment
