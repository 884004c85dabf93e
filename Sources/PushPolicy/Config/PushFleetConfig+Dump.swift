extension PushFleetConfig {
    /// The effective configuration as a Flexisip-format INI file: the four sections, every key
    /// with its effective value (defaults included), for `pushfleet config dump`.
    ///
    /// Secrets are replaced by `***`: Firebase server keys (`123:***`) and every `rdkafka.*`
    /// property whose name contains `password`, `secret`, `sasl.oauthbearer.config`,
    /// `ssl.key.pem` or `ssl_key`. Without secrets, loading the dump yields an equal config.
    public func dump() -> String {
        var out = "# Effective PushFleet configuration; secrets are shown as ***.\n"
        for section in ConfigSchema.sections {
            out += "\n[\(section.name)]\n"
            for option in section.options {
                let value = option.dump(self)
                let shown = option.secret == .projectPairs ? OptionSpec.maskPairs(value) : value
                out += "\(option.key)=\(shown)\n"
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
