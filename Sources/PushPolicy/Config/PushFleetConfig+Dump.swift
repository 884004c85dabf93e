extension PushFleetConfig {
    /// The effective configuration as a Flexisip-format INI file: the four sections, every key
    /// with its effective value (defaults included), for `pushfleet config dump`.
    ///
    /// Secrets are replaced by `***`: Firebase server keys (`123:***`), the user info of
    /// `https-proxy` (`http://***@host:port`) and every `rdkafka.*`
    /// property whose name contains `password`, `secret`, `sasl.oauthbearer.config`,
    /// `ssl.key.pem` or `ssl_key`. Without secrets, loading the dump yields an equal config.
    public func dump() -> String {
        var out = "# Effective PushFleet configuration; secrets are shown as ***.\n"
        for section in ConfigSchema.sections {
            out += "\n[\(section.name)]\n"
            for option in section.options {
                let value = option.dump(self)
                let shown: String
                switch option.secret {
                case .none: shown = value
                case .projectPairs: shown = OptionSpec.maskPairs(value)
                case .urlCredentials: shown = OutboundProxy.masked(value)
                }
                out += "\(option.key)=\(shown)\n"
                if option.key == "https-proxy", let proxy = pushfleet.outboundProxy {
                    out += "# provider connections go through the proxy \(proxy) (from \(proxy.source))"
                    out += proxy.noProxy.isEmpty ? "\n" : ", except to NO_PROXY \(proxy.noProxy)\n"
                }
            }
            if section.acceptsRdkafka {
                for (property, value) in kafka.rdkafka {
                    out += "rdkafka.\(property)=\(ConfigSchema.isSecretRdkafka(property) ? "***" : value)\n"
                }
            }
        }
        return out
    }
}
