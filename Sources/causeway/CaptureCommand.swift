import ArgumentParser
import CausewayApp

/// `causeway capture`: the netfilter rules that send a pod's outbound TCP to its sidecar
/// (and its DNS to the sidecar's DNS), printed, installed or removed in the current network
/// namespace. Run as an init container with `--apply` (needs CAP_NET_ADMIN).
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print, apply (--apply) or remove (--remove) the iptables rules that capture this network namespace's outbound traffic.",
        discussion: """
            TCP leaving the namespace is redirected to the first sidecar listener's port and DNS
            (port 53) to the DNS address, except the proxy's own connections (spec.capture.mark,
            spec.capture.excludeUIDs), loopback, and spec.capture.excludePorts/excludeCIDRs.
            Our chains: CAUSEWAY_OUTPUT, CAUSEWAY_REDIRECT and CAUSEWAY_DNS in the nat table,
            entered from OUTPUT. --apply replaces any earlier copy; --remove deletes exactly
            those and is safe to repeat. The Proxy must have a spec.capture section (capture: {}
            for the defaults): the sidecar honours capture only then. The header says what each
            address family gets, TCP and DNS; --apply fails, changing nothing, when a family
            that needs rules has no usable iptables tool.
            """
    )
    @OptionGroup var options: ConfigOption
    @Flag(name: .long, help: "Install the rules (replacing any installed before).")
    var apply = false
    @Flag(name: .long, help: "Remove the rules.")
    var remove = false

    func validate() throws {
        if apply && remove { throw ValidationError("--apply and --remove exclude each other") }
    }

    func run() throws {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: options.config)
        } catch {
            printErr(error.description)
            throw ExitCode(exitUsage)
        }
        let rules: CaptureRules
        do {
            rules = try CaptureRules(loaded.proxy)
        } catch {
            printErr("causeway capture: \(error)")
            throw ExitCode(exitUsage)
        }
        guard apply || remove else {
            print(rules.rendered(source: options.config), terminator: "")
            return
        }
        // What each family gets, as the printed header says it, for the init container's log.
        if apply { for line in rules.summary { print("causeway capture: \(line)") } }
        do {
            let report = try remove ? CaptureApplier().remove() : CaptureApplier().apply(rules)
            for line in report.lines { print("causeway capture: \(line)") }
        } catch {
            printErr("causeway capture: \(error)")
            throw ExitCode(1)
        }
    }
}
