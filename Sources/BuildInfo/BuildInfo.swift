/// What this binary is: the release version (CHANGELOG.md) and the git revision it was built
/// from (written at build time by `RevisionPlugin`), for `pushfleet --version` and the
/// `pushfleet_build_info` metric.
public enum BuildInfo {
    /// The release; bumped with a CHANGELOG.md entry.
    public static let version = "0.1.0"
    /// Git revision (12 hex digits), `$PUSHFLEET_REVISION` of an image build, or `unknown`.
    public static let revision = buildRevision
    /// `pushfleet --version`.
    public static var description: String { "pushfleet \(version) (revision \(revision))" }
}
