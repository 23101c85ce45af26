import ArgumentParser
import CausewayApp

#if canImport(Glibc)
import Glibc
#endif

/// Exit code for bad usage or configuration (sysexits.h EX_USAGE), as DESIGN.md §6 says.
let exitUsage: Int32 = 64

@main
struct Causeway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "causeway",
        abstract: "A cross-cluster service-mesh proxy: sidecar and east-west gateway.",
        subcommands: [Run.self, Validate.self, Demo.self, Certs.self, Capture.self]
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "A YAML file holding the Proxy resource (and optionally others).")
    var config: String
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a configuration and report every problem.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let loaded = try ConfigLoader.load(path: options.config)
            print("\(options.config): ok (\(loaded.files.count) file(s), \(loaded.services.services.count) service(s), \(loaded.proxy.listeners.count) listener(s))")
        } catch {
            printErr(error.description)
            throw ExitCode(exitUsage)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy until SIGTERM or SIGINT; SIGHUP reloads the configuration.")
    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "On SIGTERM/SIGINT, wait up to this many seconds (0-3600) for in-flight requests before closing (default: spec.timeouts.drain of the config, 10s unless set).")
    var drainSeconds: Double?

    func validate() throws {
        if let drainSeconds, let problem = DrainOption.problem(seconds: drainSeconds) {
            throw ValidationError(problem)  // exit code 64, like other usage errors
        }
    }

    func run() throws {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: options.config)
        } catch {
            printErr(error.description)
            throw ExitCode(exitUsage)
        }
        ProcessSignals.prepare()
        ProxyServer.prepareProcess()
        let server: ProxyServer
        do {
            server = try ProxyServer.start(loaded)
        } catch {
            printErr("causeway: \(error)")
            throw ExitCode(1)
        }
        for l in server.boundListeners { print("causeway: listener \(l.name) on \(l.address)") }
        for l in loaded.proxy.listeners where l.exposesIdentityBeyondLoopback {
            printErr("causeway: warning: sidecar listener \(l.name) on \(l.address) is reachable from other hosts; whoever reaches it calls other clusters as this proxy's identity (bind it to 127.0.0.1 unless that is intended)")
        }
        print("causeway: admin on \(server.adminAddress)")
        if let dns = server.dnsAddress { print("causeway: dns on \(dns) (udp, tcp)") }
        print("causeway: \(loaded.proxy.workers) worker(s), \(loaded.services.services.count) service(s), cluster \(loaded.proxy.cluster)")
        fflush(nil)
        // One reload path for SIGHUP and for watched files (spec.watch), never two at once.
        let reloader = Reloader(path: options.config, server: server, running: loaded) { text, isProblem in
            if isProblem { printErr(text) } else { print(text); fflush(nil) }
        }
        let watcher: ConfigWatcher?
        do {
            watcher = try ConfigWatcher.start(reloader: reloader) { printErr($0) }
        } catch {
            printErr("causeway: file watching unavailable (\(error)); SIGHUP still reloads")
            watcher = nil
        }
        while true {
            switch ProcessSignals.next() {
            case .stop:
                watcher?.stop()
                let deadline = drainSeconds.map(DrainOption.nanos(seconds:)) ?? server.configuredDrainNanos
                print("causeway: draining (up to \(Double(deadline) / 1e9) s)")
                fflush(nil)
                server.drain(timeoutNanos: deadline)
                server.stop()
                print("causeway: stopped")
                return
            case .reload:
                reloader.reload(.signal)
                watcher?.refresh()
            }
        }
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Two clusters on loopback: certificates, a gateway, a sidecar and a backend; sends a few requests across, then runs until Ctrl-C."
    )
    @Option(name: .long, help: "Port of cluster1's sidecar listener (0 picks one).")
    var sidecarPort: UInt16 = 15001
    @Option(name: .long, help: "Port of cluster1's admin listener (0 picks one).")
    var adminPort: UInt16 = 15000
    @Option(name: .long, help: "Sample requests to send across.")
    var requests: Int = 3
    @Flag(name: .long, help: "Exit after the sample requests instead of running until Ctrl-C.")
    var once = false

    func run() throws {
        ProcessSignals.prepare()
        ProxyServer.prepareProcess()
        let failures: Int
        do {
            failures = try DemoRunner(sidecarPort: sidecarPort, adminPort: adminPort, requests: requests, keepRunning: !once)
                .run { print($0); fflush(nil) }
        } catch {
            printErr("causeway demo: \(error)")
            throw ExitCode(1)
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

func printErr(_ s: String) {
    var text = s.hasSuffix("\n") ? s : s + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
