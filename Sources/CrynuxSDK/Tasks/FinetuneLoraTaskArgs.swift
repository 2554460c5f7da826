/// The arguments of a Stable Diffusion LoRA fine-tuning task (`FinetuneLoraTaskArgs`, schema
/// `stable-diffusion-finetune-lora-task.json` v3.1.0). Results are validation images plus `checkpoint.zip`.
public struct FinetuneLoraTaskArgs: TaskArguments {
    /// Fine-tune tasks are task type 2.
    public static var taskType: TaskType { .sdFinetuneLora }

    /// The model to fine-tune.
    public var model: Model
    /// The training images and captions.
    public var dataset: Dataset
    /// The validation images to render after training.
    public var validation: Validation
    /// Optimiser and schedule settings.
    public var trainArgs: TrainArgs
    /// LoRA rank and initialisation.
    public var lora: Lora?
    /// Image augmentation.
    public var transforms: Transforms?
    /// Data-loader worker processes (default 0).
    public var dataloaderNumWorkers: Int?
    /// `no`, `fp16` or `bf16` (default `no`).
    public var mixedPrecision: String?
    /// The random seed (default 0).
    public var seed: Int?
    /// A checkpoint to resume from (the node fills in a local path).
    public var checkpoint: String?
    /// The task-args version (the schema's list, as for image tasks).
    public var version: String?

    /// Creates fine-tune arguments.
    public init(
        model: Model, dataset: Dataset, validation: Validation = Validation(), trainArgs: TrainArgs = TrainArgs(),
        lora: Lora? = nil, transforms: Transforms? = nil, dataloaderNumWorkers: Int? = nil, mixedPrecision: String? = nil,
        seed: Int? = nil, checkpoint: String? = nil, version: String? = nil
    ) {
        self.model = model
        self.dataset = dataset
        self.validation = validation
        self.trainArgs = trainArgs
        self.lora = lora
        self.transforms = transforms
        self.dataloaderNumWorkers = dataloaderNumWorkers
        self.mixedPrecision = mixedPrecision
        self.seed = seed
        self.checkpoint = checkpoint
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case model, dataset, validation
        case trainArgs = "train_args"
        case lora, transforms
        case dataloaderNumWorkers = "dataloader_num_workers"
        case mixedPrecision = "mixed_precision"
        case seed, checkpoint, version
    }

    /// Decodes, refusing `null` where the schema does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(Model.self, forKey: .model)
        dataset = try c.decode(Dataset.self, forKey: .dataset)
        validation = try c.decode(Validation.self, forKey: .validation)
        trainArgs = try c.decode(TrainArgs.self, forKey: .trainArgs)
        lora = try c.decodeNonNull(Lora.self, forKey: .lora)
        transforms = try c.decodeNonNull(Transforms.self, forKey: .transforms)
        dataloaderNumWorkers = try c.decodeNonNull(Int.self, forKey: .dataloaderNumWorkers)
        mixedPrecision = try c.decodeChoice(["no", "fp16", "bf16"], forKey: .mixedPrecision, nullable: false)
        seed = try c.decodeNonNull(Int.self, forKey: .seed)
        checkpoint = try c.decodeIfPresent(String.self, forKey: .checkpoint)
        version = try c.decodeNonNull(String.self, forKey: .version)
    }

    /// Encodes the fields that are set, in the network's order.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(validation, forKey: .validation)
        try c.encode(trainArgs, forKey: .trainArgs)
        try c.encodeIfPresent(lora, forKey: .lora)
        try c.encodeIfPresent(transforms, forKey: .transforms)
        try c.encodeIfPresent(dataloaderNumWorkers, forKey: .dataloaderNumWorkers)
        try c.encodeIfPresent(mixedPrecision, forKey: .mixedPrecision)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(checkpoint, forKey: .checkpoint)
        try c.encodeIfPresent(version, forKey: .version)
    }

    /// Checks the arguments as the v3.1.0 schema does.
    public func validate() throws(TaskArgsError) {
        let check = FieldCheck(prefix: "")
        try check.nonEmpty(model.name, "model.name")
        try check.nonEmpty(dataset.name, "dataset.name")
        try check.range(validation.numImages, "validation.num_images", min: 1, max: 10)
        try trainArgs.validate(check.nested("train_args"))
        try check.oneOf(mixedPrecision, "mixed_precision", ["no", "fp16", "bf16"])
        try check.nonEmpty(checkpoint, "checkpoint")
        try check.oneOf(version, "version", SDTaskArgs.schemaVersions)
        if case .string(let s)? = lora?.initLoraWeights {
            try check.oneOf(s, "lora.init_lora_weights", ["gaussian", "loftq"])
        }
    }

    /// The model to fine-tune.
    public struct Model: Codable, Sendable, Hashable {
        /// HF id.
        public var name: String
        /// Variant such as `fp16`.
        public var variant: String?
        /// Git revision (default `main`).
        public var revision: String?

        /// Creates a model reference.
        public init(name: String, variant: String? = nil, revision: String? = nil) {
            self.name = name
            self.variant = variant
            self.revision = revision
        }

        /// Decodes; `revision` may not be `null`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            variant = try c.decodeIfPresent(String.self, forKey: .variant)
            revision = try c.decodeNonNull(String.self, forKey: .revision)
        }
    }

    /// Where the training data comes from: a dataset `name` on the Hub or an archive `url`.
    public struct Dataset: Codable, Sendable, Hashable {
        /// An http(s) URL of the dataset.
        public var url: String?
        /// A Hub dataset id (wins over `url`).
        public var name: String?
        /// The dataset configuration.
        public var configName: String?
        /// The image column (default `image`).
        public var imageColumn: String?
        /// The caption column (default `text`).
        public var captionColumn: String?

        /// Creates a dataset reference.
        public init(url: String? = nil, name: String? = nil, configName: String? = nil, imageColumn: String? = nil, captionColumn: String? = nil) {
            self.url = url
            self.name = name
            self.configName = configName
            self.imageColumn = imageColumn
            self.captionColumn = captionColumn
        }

        enum CodingKeys: String, CodingKey {
            case url, name
            case configName = "config_name"
            case imageColumn = "image_column"
            case captionColumn = "caption_column"
        }

        /// Decodes; the column names may not be `null`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decodeIfPresent(String.self, forKey: .url)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            configName = try c.decodeIfPresent(String.self, forKey: .configName)
            imageColumn = try c.decodeNonNull(String.self, forKey: .imageColumn)
            captionColumn = try c.decodeNonNull(String.self, forKey: .captionColumn)
        }
    }

    /// Validation images rendered with the trained LoRA.
    public struct Validation: Codable, Sendable, Hashable {
        /// The prompt.
        public var prompt: String?
        /// How many images, 1…10 (default 4).
        public var numImages: Int?

        /// Creates validation settings.
        public init(prompt: String? = nil, numImages: Int? = nil) {
            self.prompt = prompt
            self.numImages = numImages
        }

        enum CodingKeys: String, CodingKey {
            case prompt
            case numImages = "num_images"
        }

        /// Decodes; `num_images` may not be `null`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            prompt = try c.decodeIfPresent(String.self, forKey: .prompt)
            numImages = try c.decodeNonNull(Int.self, forKey: .numImages)
        }
    }

    /// Training hyper-parameters; every field optional with the worker's defaults.
    public struct TrainArgs: Codable, Sendable, Hashable {
        /// Learning rate, > 0 (default 1e-4).
        public var learningRate: Double?
        /// Batch size, ≥ 1 (default 16).
        public var batchSize: Int?
        /// Gradient accumulation steps, ≥ 1 (default 1).
        public var gradientAccumulationSteps: Int?
        /// `epsilon` or `v_prediction`.
        public var predictionType: String?
        /// Gradient clipping norm (default 1.0).
        public var maxGradNorm: Double?
        /// Epochs, ≥ 1 (default 1).
        public var numTrainEpochs: Int?
        /// Steps, ≥ 1.
        public var numTrainSteps: Int?
        /// Epoch cap, ≥ 1 (default 1).
        public var maxTrainEpochs: Int?
        /// Step cap, ≥ 1.
        public var maxTrainSteps: Int?
        /// Scale the learning rate by batch size (default true).
        public var scaleLR: Bool?
        /// Training resolution, ≥ 1 (default 512).
        public var resolution: Int?
        /// Noise offset (default 0).
        public var noiseOffset: Double?
        /// Min-SNR gamma.
        public var snrGamma: Double?
        /// Learning-rate schedule, e.g. `{"lr_scheduler":"constant","lr_warmup_steps":500}`.
        public var lrScheduler: JSONValue?
        /// Adam settings, e.g. `{"beta1":0.9,"beta2":0.999,"weight_decay":0.01,"epsilon":1e-8}`.
        public var adamArgs: JSONValue?

        /// Creates training arguments with the worker's defaults.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case learningRate = "learning_rate"
            case batchSize = "batch_size"
            case gradientAccumulationSteps = "gradient_accumulation_steps"
            case predictionType = "prediction_type"
            case maxGradNorm = "max_grad_norm"
            case numTrainEpochs = "num_train_epochs"
            case numTrainSteps = "num_train_steps"
            case maxTrainEpochs = "max_train_epochs"
            case maxTrainSteps = "max_train_steps"
            case scaleLR = "scale_lr"
            case resolution
            case noiseOffset = "noise_offset"
            case snrGamma = "snr_gamma"
            case lrScheduler = "lr_scheduler"
            case adamArgs = "adam_args"
        }

        /// Decodes, refusing `null` where the schema does.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decodeNonNull(Double.self, forKey: .learningRate)
            batchSize = try c.decodeNonNull(Int.self, forKey: .batchSize)
            gradientAccumulationSteps = try c.decodeNonNull(Int.self, forKey: .gradientAccumulationSteps)
            predictionType = try c.decodeChoice(["epsilon", "v_prediction"], forKey: .predictionType, nullable: true)
            maxGradNorm = try c.decodeNonNull(Double.self, forKey: .maxGradNorm)
            numTrainEpochs = try c.decodeNonNull(Int.self, forKey: .numTrainEpochs)
            numTrainSteps = try c.decodeIfPresent(Int.self, forKey: .numTrainSteps)
            maxTrainEpochs = try c.decodeNonNull(Int.self, forKey: .maxTrainEpochs)
            maxTrainSteps = try c.decodeIfPresent(Int.self, forKey: .maxTrainSteps)
            scaleLR = try c.decodeNonNull(Bool.self, forKey: .scaleLR)
            resolution = try c.decodeNonNull(Int.self, forKey: .resolution)
            noiseOffset = try c.decodeNonNull(Double.self, forKey: .noiseOffset)
            snrGamma = try c.decodeIfPresent(Double.self, forKey: .snrGamma)
            lrScheduler = try c.decodeNonNull(JSONValue.self, forKey: .lrScheduler)
            adamArgs = try c.decodeNonNull(JSONValue.self, forKey: .adamArgs)
        }

        static let schedulers = ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"]

        func validate(_ check: FieldCheck) throws(TaskArgsError) {
            try check.range(learningRate, "learning_rate", above: 0)
            for (value, name) in [
                (batchSize, "batch_size"), (gradientAccumulationSteps, "gradient_accumulation_steps"),
                (numTrainEpochs, "num_train_epochs"), (numTrainSteps, "num_train_steps"), (maxTrainEpochs, "max_train_epochs"),
                (maxTrainSteps, "max_train_steps"), (resolution, "resolution"),
            ] {
                try check.range(value, name, min: 1)
            }
            if let lrScheduler {
                guard case .object = lrScheduler else { throw TaskArgsError(field: check.path("lr_scheduler"), message: "must be an object") }
                let sub = check.nested("lr_scheduler")
                if let name = lrScheduler["lr_scheduler"] {
                    guard let s = name.stringValue else { throw TaskArgsError(field: sub.path("lr_scheduler"), message: "must be a string") }
                    try sub.oneOf(s, "lr_scheduler", Self.schedulers)
                }
                if let steps = lrScheduler["lr_warmup_steps"], let problem = ArgKind.int.check(steps, nullable: false) {
                    throw TaskArgsError(field: sub.path("lr_warmup_steps"), message: problem)
                }
            }
            if let adamArgs {
                guard case .object = adamArgs else { throw TaskArgsError(field: check.path("adam_args"), message: "must be an object") }
                for key in ["beta1", "beta2", "weight_decay", "epsilon"] {
                    if let v = adamArgs[key], let problem = ArgKind.number.check(v, nullable: false) {
                        throw TaskArgsError(field: check.path("adam_args.\(key)"), message: problem)
                    }
                }
            }
        }
    }

    /// LoRA shape and initialisation.
    public struct Lora: Codable, Sendable, Hashable {
        /// LoRA rank (default 8).
        public var rank: Int?
        /// `true`/`false`, `"gaussian"` or `"loftq"` (default true).
        public var initLoraWeights: JSONValue?
        /// Modules to adapt: a list of names or one name.
        public var targetModules: JSONValue?

        /// Creates LoRA settings.
        public init(rank: Int? = nil, initLoraWeights: JSONValue? = nil, targetModules: JSONValue? = nil) {
            self.rank = rank
            self.initLoraWeights = initLoraWeights
            self.targetModules = targetModules
        }

        enum CodingKeys: String, CodingKey {
            case rank
            case initLoraWeights = "init_lora_weights"
            case targetModules = "target_modules"
        }

        /// Decodes, checking the union types.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rank = try c.decodeNonNull(Int.self, forKey: .rank)
            initLoraWeights = try c.decodeNonNull(JSONValue.self, forKey: .initLoraWeights)
            switch initLoraWeights {
            case nil, .bool?, .string?: break
            default:
                throw DecodingError.dataCorruptedError(forKey: .initLoraWeights, in: c, debugDescription: "must be a boolean, \"gaussian\" or \"loftq\"")
            }
            targetModules = try c.decodeIfPresent(JSONValue.self, forKey: .targetModules)
            switch targetModules {
            case nil, .string?: break
            case .array(let items)? where items.allSatisfy({ $0.stringValue != nil }): break
            default:
                throw DecodingError.dataCorruptedError(forKey: .targetModules, in: c, debugDescription: "must be a string, a list of strings or null")
            }
        }
    }

    /// Training-time image augmentation.
    public struct Transforms: Codable, Sendable, Hashable {
        /// Centre-crop to the resolution (default false).
        public var centerCrop: Bool?
        /// Random horizontal flips (default false).
        public var randomFlip: Bool?

        /// Creates augmentation settings.
        public init(centerCrop: Bool? = nil, randomFlip: Bool? = nil) {
            self.centerCrop = centerCrop
            self.randomFlip = randomFlip
        }

        enum CodingKeys: String, CodingKey {
            case centerCrop = "center_crop"
            case randomFlip = "random_flip"
        }

        /// Decodes; fields may not be `null`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            centerCrop = try c.decodeNonNull(Bool.self, forKey: .centerCrop)
            randomFlip = try c.decodeNonNull(Bool.self, forKey: .randomFlip)
        }
    }
}
