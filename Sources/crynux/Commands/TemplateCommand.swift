import ArgumentParser
import CrynuxSDK
import Foundation

struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hugging Face chat templates, rendered exactly as transformers does.", subcommands: [Render.self])

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a chat template over a conversation file; prints the prompt with nothing added.")
        @Option(help: "A .jinja file, or a tokenizer_config.json with a chat_template.") var template: String
        @Option(help: "JSON: {\"messages\": […], \"tools\": […], \"template_args\": {…}}.") var conversation: String
        @Flag(name: .customLong("add-generation-prompt"), help: "Open an assistant turn at the end.") var addGenerationPrompt = false
        @Option(name: .customLong("bos-token"), help: "The BOS token (bos_token stays undefined without it).") var bosToken: String?
        @Option(name: .customLong("eos-token"), help: "The EOS token (eos_token stays undefined without it).") var eosToken: String?
        @Option(help: "Fix the clock strftime_now reads, e.g. 2026-11-22T00:00:00.") var now: String?
        func run() throws {
            let text = try TemplateTools.render(
                templatePath: template, conversationPath: conversation, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
                eosToken: eosToken, now: now)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
