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

        .target(name: "WardlineCore"),
        .target(name: "WardlineEngine", dependencies: ["WardlineCore"]),
        .target(name: "WardlineJournal"),
        .target(name: "WardlineMQTT", dependencies: ["CMosquitto"]),
        .target(name: "WardlineKafka", dependencies: ["CRdkafka"]),
        // The hub's rooms, access rules and per-socket queues: pure Swift, tested without a socket.
        .target(name: "WardlineHub", dependencies: ["WardlineCore", "WardlineEngine"]),
        // The libwebsockets server and the token signer: the only files that see lws or libcrypto.
        .target(name: "WardlineWeb", dependencies: ["CLibwebsockets", "CLibcrypto", "WardlineHub"]),
        // The task queue: job types, tiers, backoff and topology as pure Swift; rabbitmq-c and
        // libcurl each behind one owner type.
        .target(name: "WardlineTasks", dependencies: ["WardlineEngine"]),
        .target(name: "WardlineTaskQueue", dependencies: ["CRabbitMQ", "WardlineTasks"]),
        .target(name: "WardlineNotify", dependencies: ["CCurl", "WardlineTasks", .product(name: "Logging", package: "swift-log")]),
        .target(name: "WardlineStore", dependencies: [
            "CLibpq", "WardlineCore", "WardlineEngine", "WardlineHub", "WardlineTasks", .product(name: "Logging", package: "swift-log"),
        ]),
        // REST routes and handlers over the store; no C library of its own.
        .target(name: "WardlineAPI", dependencies: [
            "CLibcrypto", "WardlineCore", "WardlineEngine", "WardlineHub", "WardlineStore", "WardlineWeb",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["openapi.yaml"]),
        .target(name: "WardlineServer", dependencies: [
            "WardlineAPI", "WardlineHub", "WardlineWeb", "WardlineCore", "WardlineEngine", "WardlineJournal", "WardlineKafka", "WardlineMQTT", "WardlineStore",
            "WardlineTasks", "WardlineTaskQueue", "WardlineNotify",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "wardline", dependencies: [
            "WardlineServer", "WardlineStore", "WardlineKafka", "WardlineWeb", "WardlineHub", "WardlineTasks", "WardlineTaskQueue",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "wardline-bench", dependencies: [
            "WardlineCore", "WardlineEngine", "WardlineJournal", "WardlineMQTT", "WardlineStore", "WardlineServer", "WardlineHub",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "WardlineCoreTests", dependencies: [
            "WardlineCore", "WardlineJournal", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "WardlineEngineTests", dependencies: ["WardlineEngine"]),
        .testTarget(name: "WardlineStoreTests", dependencies: ["WardlineStore", "WardlineServer"]),
        .testTarget(name: "WardlineKafkaTests", dependencies: ["WardlineKafka"]),
        .testTarget(name: "WardlineHubTests", dependencies: ["WardlineHub", "WardlineWeb", "WardlineAPI", "WardlineEngine", "WardlineCore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "WardlineTasksTests", dependencies: ["WardlineTasks", "WardlineEngine"]),
    ],
    swiftLanguageModes: [.v6]
)
