/// The release of swift-plasma this code belongs to: what every program's `--version` prints and the
/// store logs at start. Bumped with each tagged release (semantic versioning; the git tag is the same
/// string), so that a package depending on swift-plasma `from:` a version gets this code.
public enum PlasmaVersion {
    /// The version string, e.g. `0.1.0`.
    public static let current = "0.1.0"
}
