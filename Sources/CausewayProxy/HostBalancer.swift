import CausewayMesh

/// balance: which endpoint of a service an attempt goes to.
///
/// Ejected endpoints are skipped (all of them ejected: they are used anyway, Envoy's panic
/// mode, rather than failing every request); `avoiding` (the endpoint a retry comes from)
/// is skipped while another is available. Then the service's load balancer: least request
/// (power of two choices on requests in flight, the default), round robin, or random.
/// No allocation: eligibility is recomputed on each probe instead of collected.
extension BackendState {
    func pickHost(avoiding: UpstreamPool?, random: inout SplitMix64) -> Int? {
        let n = pools.count
        guard n > 0 else { return nil }
        let anyHealthy = outlier.ejectedCount < n
        func usable(_ i: Int, strict: Bool) -> Bool {
            if anyHealthy && outlier.isEjected(host: i) { return false }
            if strict, let avoiding, pools[i] === avoiding { return false }
            return true
        }
        // Avoid the previous endpoint only when something else is usable.
        var strict = avoiding != nil
        if strict && !(0..<n).contains(where: { usable($0, strict: true) }) { strict = false }
        let eligible = (0..<n).reduce(0) { $0 + (usable($1, strict: strict) ? 1 : 0) }
        guard eligible > 0 else { return nil }
        func nth(_ k: Int) -> Int {
            var seen = 0
            for i in 0..<n where usable(i, strict: strict) {
                if seen == k { return i }
                seen += 1
            }
            return 0
        }
        switch loadBalancer {
        case .roundRobin:
            for _ in 0..<n {
                if let i = balancer.next(count: n), usable(i, strict: strict) { return i }
            }
            return nth(0)
        case .random:
            return nth(Int(random.next() % UInt64(eligible)))
        case .leastRequest:
            if eligible == 1 { return nth(0) }
            // Two distinct eligible positions, the one with fewer requests in flight wins.
            let ka = Int(random.next() % UInt64(eligible))
            var kb = Int(random.next() % UInt64(eligible - 1))
            if kb >= ka { kb += 1 }
            let a = nth(ka), b = nth(kb)
            return pools[a].activeRequests <= pools[b].activeRequests ? a : b
        }
    }
}
