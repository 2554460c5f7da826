import Foundation
import Testing
@testable import CrynuxSDK

/// One task-args example from the Crynux repositories (see Fixtures/task-examples/index.json).
struct TaskExample: Sendable, CustomTestStringConvertible {
    var file: String
    var kind: String
    var schemaValid: Bool
    var testDescription: String { file }

    static let all: [TaskExample] = {
        guard let url = Bundle.module.url(forResource: "index", withExtension: "json", subdirectory: "Fixtures/task-examples"),
            let data = try? Data(contentsOf: url), let root = try? JSONValue.parse(Array(data)),
            case .array(let items)? = root["examples"]
        else { return [] }
        return items.map {
            TaskExample(file: $0.string("file"), kind: $0.string("kind"), schemaValid: $0.bool("schema_valid"))
        }
    }()

    func load() throws -> JSONValue {
        let name = String(file.dropLast(5))
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/task-examples") else {
            throw FixtureError(message: "missing \(file)")
        }
        return try JSONValue.parse(Array(try Data(contentsOf: url)))
    }
}

/// Drops `null` members recursively: the network reads a null optional field as absent.
func withoutNulls(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let members): return .object(members.filter { $0.value != .null }.map { JSONMember($0.key, withoutNulls($0.value)) })
    case .array(let items): return .array(items.map(withoutNulls))
    default: return v
    }
}

@Suite struct TaskArgsExampleTests {
    @Test func examplesArePresent() {
        #expect(TaskExample.all.count >= 90)
        #expect(Set(TaskExample.all.map(\.kind)) == ["gpt", "sd", "sd_finetune", "gpt_response"])
    }

    func decodeAndValidate(_ example: TaskExample, _ json: JSONValue) throws -> JSONValue {
        switch example.kind {
        case "gpt":
            let args = try GPTTaskArgs(jsonValue: json)
            try args.validate()
            return args.jsonValue
        case "sd":
            let args = try SDTaskArgs(jsonValue: json)
            try args.validate()
            return args.jsonValue
        case "sd_finetune":
            let args = try FinetuneLoraTaskArgs(jsonValue: json)
            try args.validate()
            return args.jsonValue
        default:
            return try JSONValueEncoder().encode(try JSONValueDecoder().decode(GPTTaskResponse.self, from: json))
        }
    }

    @Test(arguments: TaskExample.all)
    func decodesValidatesAndReencodesWithTheSameFields(_ example: TaskExample) throws {
        let json = try example.load()
        if example.schemaValid || example.kind == "gpt_response" {
            let reencoded = try decodeAndValidate(example, json)
            #expect(CanonicalJSON.encode(withoutNulls(reencoded)) == CanonicalJSON.encode(withoutNulls(json)))
        } else {
            #expect(throws: TaskArgsError.self) { _ = try decodeAndValidate(example, json) }
        }
    }
}

@Suite struct TaskArgsValidationTests {
    func gptError(_ json: String) -> TaskArgsError? {
        do {
            try GPTTaskArgs(json: json).validate()
            return nil
        } catch { return error }
    }

    func sdError(_ json: String) -> TaskArgsError? {
        do {
            try SDTaskArgs(json: json).validate()
            return nil
        } catch { return error }
    }

    @Test(arguments: [
        (#"{"messages":[]}"#, "model"),
        (#"{"model":"","messages":[]}"#, "model"),
        (#"{"model":"m","messages":[{"role":"developer","content":"x"}]}"#, "messages[0].role"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":""}]}]}"#, "messages[0].content[0].text"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","x":1}]}]}"#, "messages[0].content[0].x"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"video","url":"a"}]}]}"#, "messages[0].content[0].type"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","base64":"data:image/png;base64,AAAA"}]}]}"#, "messages[0].content[0].base64"),
        (#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
        (#"{"model":"m","messages":[],"generation_config":{"max_new_tokens":"5"}}"#, "generation_config.max_new_tokens"),
        (#"{"model":"m","messages":[],"generation_config":{"max_new_tokens":null}}"#, "generation_config.max_new_tokens"),
        (#"{"model":"m","messages":[],"generation_config":{"top_k":1.5}}"#, "generation_config.top_k"),
        (#"{"model":"m","messages":[],"generation_config":{"stop_strings":["a",1]}}"#, "generation_config.stop_strings[1]"),
        (#"{"model":"m","messages":[],"quantize_bits":16}"#, "quantize_bits"),
        (#"{"model":"m","messages":[],"dtype":"fp16"}"#, "dtype"),
        (#"{"model":"m","messages":[],"seed":null}"#, "seed"),
        (#"{"model":"m","messages":[],"tools":[1]}"#, "tools[0]"),
        (#"{"model":"m","messages":[],"template_args":[]}"#, "template_args"),
    ])
    func gptSchemaViolationsNameTheField(_ json: String, _ field: String) {
        let error = gptError(json)
        #expect(error?.field == field, "\(String(describing: error))")
    }

    @Test func gptAcceptsWhatTheSchemaAccepts() throws {
        #expect(gptError(#"{"model":"m","messages":[]}"#) == nil)
        #expect(gptError(#"{"model":"m","messages":[{"content":null}],"quantize_bits":4.0,"seed":-5}"#) == nil)
        #expect(gptError(#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","base64":"iVBORw0KGgo="}]}]}"#) == nil)
        #expect(gptError(#"{"model":"m","messages":[{"role":"user","content":"x","name":"bob"}],"unknown":1}"#) == nil)
    }

    @Test func explicitNullsInMessagesSurvive() throws {
        let json = #"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"b":1,"a":2}}}]},{"role":"user","content":"hi"}]}"#
        let args = try GPTTaskArgs(json: json)
        #expect(args.jsonString == json)
    }

    @Test(arguments: [
        (#"{"prompt":"p","task_config":{}}"#, "base_model"),
        (#"{"base_model":"","prompt":"p","task_config":{}}"#, "base_model"),
        (#"{"base_model":{"name":""},"prompt":"p","task_config":{}}"#, "base_model.name"),
        (#"{"base_model":"m","prompt":"","task_config":{}}"#, "prompt"),
        (#"{"base_model":"m","prompt":"p"}"#, "task_config"),
        (#"{"base_model":"m","prompt":"p","task_config":null}"#, "task_config"),
        (#"{"base_model":"m","prompt":"p","task_config":{"steps":0}}"#, "task_config.steps"),
        (#"{"base_model":"m","prompt":"p","task_config":{"steps":101}}"#, "task_config.steps"),
        (#"{"base_model":"m","prompt":"p","task_config":{"seed":2147483648}}"#, "task_config.seed"),
        (#"{"base_model":"m","prompt":"p","task_config":{"seed":-1}}"#, "task_config.seed"),
        (#"{"base_model":"m","prompt":"p","task_config":{"num_images":11}}"#, "task_config.num_images"),
        (#"{"base_model":"m","prompt":"p","task_config":{"cfg":20.5}}"#, "task_config.cfg"),
        (#"{"base_model":"m","prompt":"p","task_config":{"safety_checker":"true"}}"#, "task_config.safety_checker"),
        (#"{"version":"3.0.0","base_model":"m","prompt":"p","task_config":{}}"#, "version"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"negative_prompt":null}"#, "negative_prompt"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"lora":{"model":"l","weight":0}}"#, "lora.weight"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"lora":{"model":"l","weight":0.5}}"#, "lora.weight"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"scheduler":null}"#, "scheduler"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"scheduler":{}}"#, "scheduler.method"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"scheduler":{"method":"PNDMScheduler"}}"#, "scheduler.method"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"scheduler":{"method":"EulerAncestralDiscreteScheduler","args":{"rescale_betas_zero_snr":0.0}}}"#, "scheduler.args.rescale_betas_zero_snr"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"scheduler":{"method":"LCMScheduler","args":{"clip_samples":true}}}"#, "scheduler.args.clip_samples"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"controlnet":{"model":"c","preprocess":{"method":"dwpose"}}}"#, "controlnet.preprocess.method"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"controlnet":{"model":"c","preprocess":{"method":"mlsd","args":{"thr_v":0}}}}"#, "controlnet.preprocess.args.thr_v"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"controlnet":{"model":"c","weight":101}}"#, "controlnet.weight"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"refiner":{"model":"r","steps":0}}"#, "refiner.steps"),
        (#"{"base_model":"m","prompt":"p","task_config":{},"dtype":"fp16"}"#, "dtype"),
    ])
    func sdSchemaViolationsNameTheField(_ json: String, _ field: String) {
        let error = sdError(json)
        #expect(error?.field == field, "\(String(describing: error))")
    }

    @Test func sdAcceptsWhatTheSchemaAccepts() {
        for json in [
            #"{"base_model":"m","prompt":"p","task_config":{}}"#,
            #"{"base_model":"m","prompt":"p","task_config":{"steps":5.0,"image_width":0},"unknown":1}"#,
            #"{"base_model":"m","prompt":"p","task_config":{},"lora":{"model":"l","weight":1}}"#,
            #"{"base_model":"m","prompt":"p","task_config":{},"controlnet":{"model":"c","preprocess":{"method":"canny","args":{}}}}"#,
            #"{"base_model":"m","prompt":"p","task_config":{},"scheduler":{"method":"DPMSolverMultistepScheduler","args":{"unknown":1}}}"#,
            #"{"base_model":"m","prompt":"p","task_config":{},"refiner":{"model":"r","denoising_cutoff":100}}"#,
            #"{"version":"2.5.2","base_model":"m","prompt":"p","task_config":{}}"#,
        ] {
            #expect(sdError(json) == nil, "\(json)")
        }
    }

    @Test func finetuneRules() throws {
        let base = #""model":{"name":"m"},"dataset":{"name":"d"},"validation":{},"train_args":{}"#
        try FinetuneLoraTaskArgs(json: "{\(base)}").validate()
        for (extra, field) in [
            (#","mixed_precision":"fp32""#, "mixed_precision"), (#","checkpoint":"""#, "checkpoint"),
            (#","version":"3.0.0""#, "version"), (#","lora":{"init_lora_weights":"normal"}"#, "lora.init_lora_weights"),
        ] {
            #expect(throws: TaskArgsError.self) { try FinetuneLoraTaskArgs(json: "{\(base)\(extra)}").validate() }
            do { try FinetuneLoraTaskArgs(json: "{\(base)\(extra)}").validate() } catch { #expect(error.field == field) }
        }
        #expect(throws: TaskArgsError.self) {
            try FinetuneLoraTaskArgs(json: #"{"model":{"name":"m"},"dataset":{},"validation":{"num_images":11},"train_args":{}}"#).validate()
        }
        #expect(throws: TaskArgsError.self) {
            try FinetuneLoraTaskArgs(json: #"{"model":{"name":"m"},"dataset":{},"validation":{},"train_args":{"batch_size":0}}"#).validate()
        }
        #expect(throws: TaskArgsError.self) { try FinetuneLoraTaskArgs(json: #"{"model":{"name":"m"},"dataset":{},"validation":{}}"#).validate() }
    }

    @Test func swiftBuiltArgsEncodeInTheNetworkOrder() throws {
        let args = GPTTaskArgs(
            model: "Qwen/Qwen2.5-7B-Instruct", messages: [.text(.system, "Be brief."), .text(.user, "Hi <there> & you")],
            generationConfig: GenerationConfig(maxNewTokens: 30, temperature: 0.7), seed: 42, dtype: .bfloat16)
        try args.validate()
        #expect(args.jsonString == #"{"model":"Qwen/Qwen2.5-7B-Instruct","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi \u003cthere\u003e \u0026 you"}],"generation_config":{"max_new_tokens":30,"temperature":0.7},"seed":42,"dtype":"bfloat16"}"#)
        #expect(try GPTTaskArgs(json: args.jsonString) == args)
        let sd = SDTaskArgs(
            baseModel: .object(name: "crynux-network/sdxl-turbo", variant: "fp16"), prompt: "a cat",
            taskConfig: SDTaskConfig(steps: 1, numImages: 2, safetyChecker: false, cfg: 0), scheduler: .eulerAncestral(timestepSpacing: "trailing"))
        try sd.validate()
        #expect(try SDTaskArgs(json: sd.jsonString) == sd)
        #expect(sd.modelIDs.map(\.description) == ["base:crynux-network/sdxl-turbo+fp16"])
    }
}

@Suite struct ModelIDTests {
    @Test func parseAndFormat() throws {
        let id = try #require(ModelID("base:crynux-network/sdxl-turbo+fp16"))
        #expect(id.usage == .base && id.name == "crynux-network/sdxl-turbo" && id.variant == "fp16")
        #expect(id.description == "base:crynux-network/sdxl-turbo+fp16")
        #expect(ModelID("lora:https://civitai.com/api/download/models/178048")?.name == "https://civitai.com/api/download/models/178048")
        #expect(ModelID.controlnet("lllyasviel/sd-controlnet-canny", variant: "fp16").description == "controlnet:lllyasviel/sd-controlnet-canny+fp16")
        #expect(ModelID.base("Qwen/Qwen3-8B").normalized == "base:qwen/qwen3-8b")
        #expect(ModelID.base("m", variant: "").description == "base:m")
        for bad in ["", "base:", "qwen/qwen3", "vae:x", "BASE:x"] { #expect(ModelID(bad) == nil, "\(bad)") }
        let sd = SDTaskArgs(
            baseModel: .name("runwayml/stable-diffusion-v1-5"), prompt: "p", lora: SDLoraArgs(model: "l"),
            controlnet: SDControlNetArgs(model: "c", variant: "fp16"))
        #expect(sd.modelIDs.map(\.description) == ["base:runwayml/stable-diffusion-v1-5", "lora:l", "controlnet:c+fp16"])
    }
}

@Suite struct TaskArgsDefaultsTests {
    @Test func sdDefaultsMatchTheWorkersFullSerialisation() throws {
        // pydantic v3.1.0: InferenceTaskArgs.model_validate({...}).model_dump_json() (nulls dropped).
        let worker = #"{"version":"2.5.0","base_model":{"name":"m","variant":null},"dtype":"auto","unet":"","prompt":"p","negative_prompt":"","task_config":{"image_width":512,"image_height":512,"steps":1,"seed":0,"num_images":6,"safety_checker":true,"cfg":5.0},"lora":null,"controlnet":null,"scheduler":{"method":"DPMSolverMultistepScheduler","args":null},"vae":"","refiner":null,"textual_inversion":""}"#
        let ours = try SDTaskArgs(json: #"{"base_model":{"name":"m"},"prompt":"p","task_config":{}}"#).withDefaults()
        try ours.validate()
        #expect(CanonicalJSON.encode(withoutNulls(ours.jsonValue)) == CanonicalJSON.encode(withoutNulls(try JSONValue.parse(worker))))
        let sub = SDTaskArgs(
            baseModel: .name("m"), prompt: "p", lora: SDLoraArgs(model: "l"), controlnet: SDControlNetArgs(model: "c"),
            refiner: SDRefinerArgs(model: "r")).withDefaults()
        #expect(sub.lora == SDLoraArgs(model: "l", weightFileName: "", weight: 100))
        #expect(sub.controlnet?.weight == 70 && sub.refiner?.denoisingCutoff == 80 && sub.refiner?.steps == 20)
    }

    @Test func finetuneDefaultsMatchTheWorkersFullSerialisation() throws {
        let worker = #"{"model":{"name":"m","variant":null,"revision":"main"},"dataset":{"url":null,"name":"d","config_name":null,"image_column":"image","caption_column":"text"},"validation":{"prompt":null,"num_images":4},"train_args":{"learning_rate":0.0001,"batch_size":16,"gradient_accumulation_steps":1,"prediction_type":null,"max_grad_norm":1.0,"num_train_epochs":1,"num_train_steps":null,"max_train_epochs":1,"max_train_steps":null,"scale_lr":true,"resolution":512,"noise_offset":0.0,"snr_gamma":null,"lr_scheduler":{"lr_scheduler":"constant","lr_warmup_steps":500},"adam_args":{"beta1":0.9,"beta2":0.999,"weight_decay":0.01,"epsilon":1e-08}},"lora":{"rank":8,"init_lora_weights":true,"target_modules":null},"transforms":{"center_crop":false,"random_flip":false},"dataloader_num_workers":0,"mixed_precision":"no","seed":0,"checkpoint":null,"version":"2.5.0"}"#
        let ours = try FinetuneLoraTaskArgs(json: #"{"model":{"name":"m"},"dataset":{"name":"d"},"validation":{},"train_args":{"adam_args":{"beta1":0.8}}}"#).withDefaults()
        try ours.validate()
        var expected = try JSONValue.parse(worker)
        expected = try JSONValue.parse(CanonicalJSON.encode(expected).replacingOccurrences(of: #""beta1":0.9"#, with: #""beta1":0.8"#))
        #expect(CanonicalJSON.encode(withoutNulls(ours.jsonValue)) == CanonicalJSON.encode(withoutNulls(expected)))
    }

    @Test func gptDefaults() throws {
        let args = try GPTTaskArgs(json: #"{"model":"m","messages":[]}"#)
        #expect(args.withDefaults().jsonString == #"{"model":"m","messages":[],"seed":0,"dtype":"auto"}"#)
        #expect(args.resolvedMaxNewTokens == 256 && args.resolvedNumReturnSequences == 1)
    }
}
