import Foundation
import VerdictWazuh

// wazuh-execd runs this with one JSON message on standard input (which it keeps open).
let environment = ProcessInfo.processInfo.environment
let context = WazuhRunContext(
    home: wazuhHome(environment: environment, executablePath: currentExecutablePath()),
    environment: environment
)
exit(await ActiveResponseRun.run(input: STDIN_FILENO, context: context))
