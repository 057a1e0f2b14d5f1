import Testing

/// Every integration suite nests in here, so that they run one test at a time: each test starts real
/// processes (a daemon, peers), and the timing claims (a wait of about a second, a timeout of 200 ms)
/// only mean something when tests don't starve each other of the machine's two cores. Serial, the
/// whole set takes about six minutes on this kind of machine, half of it the two pytest suites
/// (`ArrowInteropTests`, `PythonClientTests`); `.ci/run` builds the sanitizer builds meanwhile.
// The time limit turns a test that would hang (a lost event, a reply that never comes) into a failure;
// it is generous because the interop test installs pyarrow on a fresh machine.
@Suite(.serialized, .timeLimit(.minutes(10))) enum IntegrationTests {}
