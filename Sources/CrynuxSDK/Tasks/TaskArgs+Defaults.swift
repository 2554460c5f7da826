/// The network's defaults, made explicit: `withDefaults()` fills every unset field with the value the
/// v3.1.0 worker would use, so a node or an app can read effective values without knowing the rules.

/// The SD task-args version the worker assumes when none is given.
private let defaultSDVersion = "2.5.0"

extension GPTTaskArgs {
    /// A copy with `seed` (0) and `dtype` (`auto`) filled in; `generation_config` stays as given.
    public func withDefaults() -> GPTTaskArgs {
        var copy = self
        copy.seed = seed ?? Self.defaultSeed
        copy.dtype = dtype ?? .auto
        return copy
    }

    /// The number of tokens the worker generates at most: `max_new_tokens` or 256.
    public var resolvedMaxNewTokens: Int { generationConfig?.maxNewTokens ?? GenerationConfig.defaultMaxNewTokens }

    /// How many answers the worker returns: `num_return_sequences` or 1.
    public var resolvedNumReturnSequences: Int { generationConfig?.numReturnSequences ?? 1 }
}

extension SDTaskConfig {
    /// A copy with 512×512, 1 step, seed 0, 6 images, the safety checker on and cfg 5 where unset.
    public func withDefaults() -> SDTaskConfig {
        SDTaskConfig(
            imageWidth: imageWidth ?? 512, imageHeight: imageHeight ?? 512, steps: steps ?? 1, seed: seed ?? 0,
            numImages: numImages ?? Self.defaultNumImages, safetyChecker: safetyChecker ?? true, cfg: cfg ?? 5)
    }
}

extension SDTaskArgs {
    /// A copy with every unset field at the worker's default (version 2.5.0, dtype auto, empty unet, vae,
    /// negative prompt and textual inversion, the DPMSolverMultistep scheduler, LoRA weight 100 and an empty
    /// weight file, ControlNet weight 70 and an empty image, refiner cut-off 80 and 20 steps).
    public func withDefaults() -> SDTaskArgs {
        var copy = self
        copy.version = version ?? defaultSDVersion
        copy.dtype = dtype ?? .auto
        copy.unet = unet ?? ""
        copy.negativePrompt = negativePrompt ?? ""
        copy.taskConfig = taskConfig.withDefaults()
        copy.scheduler = scheduler ?? SDScheduler(method: "DPMSolverMultistepScheduler")
        copy.vae = vae ?? ""
        copy.textualInversion = textualInversion ?? ""
        if var lora = copy.lora {
            lora.weightFileName = lora.weightFileName ?? ""
            lora.weight = lora.weight ?? 100
            copy.lora = lora
        }
        if var controlnet = copy.controlnet {
            controlnet.imageDataURL = controlnet.imageDataURL ?? ""
            controlnet.weight = controlnet.weight ?? 70
            copy.controlnet = controlnet
        }
        if var refiner = copy.refiner {
            refiner.denoisingCutoff = refiner.denoisingCutoff ?? 80
            refiner.steps = refiner.steps ?? 20
            copy.refiner = refiner
        }
        return copy
    }
}

extension FinetuneLoraTaskArgs {
    /// A copy with every unset field at the worker's default (revision `main`, columns `image`/`text`,
    /// 4 validation images, the training defaults, LoRA rank 8, no transforms, mixed precision `no`,
    /// seed 0, version 2.5.0).
    public func withDefaults() -> FinetuneLoraTaskArgs {
        var copy = self
        copy.model.revision = model.revision ?? "main"
        copy.dataset.imageColumn = dataset.imageColumn ?? "image"
        copy.dataset.captionColumn = dataset.captionColumn ?? "text"
        copy.validation.numImages = validation.numImages ?? 4
        copy.trainArgs = trainArgs.withDefaults()
        var lora = lora ?? Lora()
        lora.rank = lora.rank ?? 8
        lora.initLoraWeights = lora.initLoraWeights ?? .bool(true)
        copy.lora = lora
        var transforms = transforms ?? Transforms()
        transforms.centerCrop = transforms.centerCrop ?? false
        transforms.randomFlip = transforms.randomFlip ?? false
        copy.transforms = transforms
        copy.dataloaderNumWorkers = dataloaderNumWorkers ?? 0
        copy.mixedPrecision = mixedPrecision ?? "no"
        copy.seed = seed ?? 0
        copy.version = version ?? defaultSDVersion
        return copy
    }
}

extension FinetuneLoraTaskArgs.TrainArgs {
    /// A copy with the worker's training defaults where unset (learning rate 1e-4, batch 16, one epoch,
    /// resolution 512, constant schedule with 500 warm-up steps, Adam 0.9/0.999/0.01/1e-8, …).
    public func withDefaults() -> Self {
        var copy = self
        copy.learningRate = learningRate ?? 1e-4
        copy.batchSize = batchSize ?? 16
        copy.gradientAccumulationSteps = gradientAccumulationSteps ?? 1
        copy.maxGradNorm = maxGradNorm ?? 1.0
        copy.numTrainEpochs = numTrainEpochs ?? 1
        copy.maxTrainEpochs = maxTrainEpochs ?? 1
        copy.scaleLR = scaleLR ?? true
        copy.resolution = resolution ?? 512
        copy.noiseOffset = noiseOffset ?? 0
        copy.lrScheduler = Self.merge(lrScheduler, [("lr_scheduler", .string("constant")), ("lr_warmup_steps", .integer(500))])
        copy.adamArgs = Self.merge(
            adamArgs, [("beta1", .number("0.9")), ("beta2", .number("0.999")), ("weight_decay", .number("0.01")), ("epsilon", .number("1e-08"))])
        return copy
    }

    /// An object with `defaults` in their order, overridden by the members `given` has.
    private static func merge(_ given: JSONValue?, _ defaults: [(String, JSONValue)]) -> JSONValue {
        var members = defaults.map { JSONMember($0.0, given?[$0.0] ?? $0.1) }
        if case .object(let extra)? = given {
            members += extra.filter { m in !defaults.contains(where: { $0.0 == m.key }) }
        }
        return .object(members)
    }
}

/// The network's name for the Stable Diffusion task arguments.
public typealias InferenceTaskArgs = SDTaskArgs

extension GPTTaskArgs {
    /// These arguments with what they leave unset filled in: `maxNewTokens` when the generation config has none,
    /// `seed` when the task has none, and sampling at `temperature` when one above 0 is given (greedy otherwise).
    public func filling(maxNewTokens: Int, seed: Int, sampleAt temperature: Double?) -> GPTTaskArgs {
        var task = self
        var config = task.generationConfig ?? GenerationConfig()
        config.maxNewTokens = config.maxNewTokens ?? maxNewTokens
        if let temperature, temperature > 0 {
            config.doSample = true
            config.temperature = temperature
        }
        task.generationConfig = config
        task.seed = task.seed ?? seed
        return task
    }
}
