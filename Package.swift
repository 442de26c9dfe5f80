// swift-tools-version:6.0
import PackageDescription

// One system-library target per C library (modulemap + shim only); one Swift module per
// part of the pipeline; the pure core (WardlineCore, WardlineEngine) imports no C library.
let package = Package(
    name: "wardline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wardline", targets: ["wardline"]),
        .executable(name: "wardline-bench", targets: ["wardline-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Ordered graceful shutdown of serve's parts (SIGTERM: intake first, writers last).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // /metrics: swift-metrics' Timer for the histograms, swift-prometheus's registry for the
        // exposition text (counters, gauges, histograms). Lower bounds: the versions built and tested.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tests only: the differential property test of FastVitalsParser against JSONDecoder.
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // librdkafka 2.8, built by deploy/install.sh into /usr/local (Debian 12's 2.0.2 is too old).
        .systemLibrary(name: "CRdkafka", pkgConfig: "rdkafka"),
        // libwebsockets 4.3, built by deploy/install.sh into /usr/local (Debian 12's 4.1 drops a request
        // whose query holds a %00 before Wardline can answer it).
        .systemLibrary(name: "CLibwebsockets", pkgConfig: "libwebsockets"),
        // OpenSSL's libcrypto: HMAC-SHA256 compared in constant time and RSA signatures, for tokens.
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // The pure core: models, decoder, ring buffer; then the engine. No C library in either.
        .target(name: "WardlineCore"),
        .target(name: "WardlineEngine", dependencies: ["WardlineCore"]),
        // Pure Swift: rule-set files (rules/*.json) read into the engine's configuration.
        .target(name: "WardlineRules", dependencies: ["WardlineCore", "WardlineEngine"]),
        // Pure Swift: recorded readings through two engines, and the comparison of their alarms.
        .target(name: "WardlineReplay", dependencies: ["WardlineCore", "WardlineEngine"]),
        // The hospital's own words that every stage shares: wards, patients' places, staff and
        // what each may do (one authorisation function for REST and the socket alike). Pure.
        .target(name: "WardlineWard"),
        // What every long-lived part runs on: counters and the metrics registry, the rate-limited log,
        // the doorbell, the health board, heartbeats, threads and their Service adapter. No C library,
        // no pipeline stage.
        .target(name: "WardlineRuntime", dependencies: [
            "WardlineCore", .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        // One C library each, behind one owner type.
        .target(name: "WardlineJournal"),
        .target(name: "WardlineMQTT", dependencies: ["CMosquitto"]),
        .target(name: "WardlineKafka", dependencies: ["CRdkafka"]),
        // The task queue: job types, tiers, backoff and topology as pure Swift; rabbitmq-c and
        // libcurl each behind one owner type.
        .target(name: "WardlineTasks", dependencies: ["WardlineEngine"]),
        .target(name: "WardlineTaskQueue", dependencies: ["CRabbitMQ", "WardlineTasks"]),
        .target(name: "WardlineNotify", dependencies: ["CCurl", "WardlineTasks", .product(name: "Logging", package: "swift-log")]),
        .target(name: "WardlineStore", dependencies: [
            "CLibpq", "WardlineCore", "WardlineEngine", "WardlineReplay", "WardlineWard", "WardlineTasks", .product(name: "Logging", package: "swift-log"),
        ]),
        // The hub's rooms and per-socket queues: pure Swift, tested without a socket.
        .target(name: "WardlineHub", dependencies: ["WardlineCore", "WardlineEngine", "WardlineWard"]),
        // The libwebsockets server and the token signer: the only files that see lws or libcrypto.
        .target(name: "WardlineWeb", dependencies: ["CLibwebsockets", "CLibcrypto", "WardlineHub", "WardlineWard"]),
        // FHIR R4 for the health record: Observations, search parameters and paging as pure Swift.
        .target(name: "WardlineFHIR", dependencies: ["WardlineCore", "WardlineEngine"]),
        // REST routes and handlers over the store; no C library of its own.
        .target(name: "WardlineAPI", dependencies: [
            "CLibcrypto", "WardlineCore", "WardlineEngine", "WardlineFHIR", "WardlineHub", "WardlineReplay", "WardlineRules", "WardlineStore", "WardlineWard", "WardlineWeb",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["openapi.yaml"]),
        // The one typed configuration (environment variables, defaults for loopback, the README table).
        .target(name: "WardlineConfig", dependencies: ["WardlineCore", "WardlineHub", "WardlineMQTT", "WardlineWard", "WardlineWeb"]),

        // The pipeline's stages, in the order data flows through them:
        // MQTT → journal → ring → engine, and readings to the database.
        .target(name: "WardlineIngest", dependencies: [
            "WardlineCore", "WardlineEngine", "WardlineJournal", "WardlineKafka", "WardlineMQTT", "WardlineRuntime", "WardlineStore", "WardlineWard",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Engine events onwards: alarm transitions to the database and their outboxes, to Kafka,
        // RabbitMQ and the hub.
        .target(name: "WardlineRelay", dependencies: [
            "WardlineAPI", "WardlineCore", "WardlineEngine", "WardlineHub", "WardlineIngest", "WardlineJournal", "WardlineKafka",
            "WardlineRuntime", "WardlineStore", "WardlineTaskQueue", "WardlineTasks", "WardlineWeb",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `wardline worker`: escalation and delivery jobs from RabbitMQ.
        .target(name: "WardlineWorker", dependencies: [
            "WardlineConfig", "WardlineNotify", "WardlineRuntime", "WardlineStore", "WardlineTaskQueue", "WardlineTasks",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The assembly: `wardline serve` wires the stages together and watches them.
        .target(name: "WardlineServer", dependencies: [
            "WardlineAPI", "WardlineConfig", "WardlineCore", "WardlineEngine", "WardlineHub", "WardlineIngest", "WardlineJournal",
            "WardlineMQTT", "WardlineRelay", "WardlineRules", "WardlineRuntime", "WardlineStore", "WardlineTasks", "WardlineWard", "WardlineWeb",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "wardline", dependencies: [
            "WardlineConfig", "WardlineReplay", "WardlineRules", "WardlineServer", "WardlineStore", "WardlineKafka", "WardlineWard", "WardlineWeb", "WardlineHub",
            "WardlineRuntime", "WardlineTasks", "WardlineTaskQueue", "WardlineWorker",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "wardline-bench", dependencies: [
            "WardlineConfig", "WardlineCore", "WardlineEngine", "WardlineIngest", "WardlineJournal", "WardlineKafka", "WardlineMQTT",
            "WardlineReplay", "WardlineRuntime", "WardlineStore", "WardlineServer", "WardlineHub", "WardlineWeb",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            // `wardline-bench counters`: the hot-path counter against swift-prometheus's and swift-metrics'.
            .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        .testTarget(name: "WardlineCoreTests", dependencies: [
            "WardlineCore", "WardlineJournal", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "WardlineEngineTests", dependencies: ["WardlineEngine", "WardlineReplay", "WardlineRules"]),
        .testTarget(name: "WardlineStoreTests", dependencies: [
            "WardlineConfig", "WardlineIngest", "WardlineRuntime", "WardlineServer", "WardlineStore", "WardlineWard", "WardlineWeb",
            "WardlineWorker",
        ]),
        .testTarget(name: "WardlineKafkaTests", dependencies: ["WardlineKafka"]),
        .testTarget(name: "WardlineHubTests", dependencies: ["WardlineHub", "WardlineWard", "WardlineWeb", "WardlineAPI", "WardlineEngine", "WardlineCore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "WardlineFHIRTests", dependencies: ["WardlineFHIR", "WardlineCore", "WardlineEngine"]),
        .testTarget(name: "WardlineTasksTests", dependencies: ["WardlineTasks", "WardlineEngine"]),
    ],
    swiftLanguageModes: [.v6]
)
