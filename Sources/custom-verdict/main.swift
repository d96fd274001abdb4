import Foundation
import VerdictWazuh

// wazuh-integratord runs this once per matching alert: `integrations ALERT_FILE API_KEY HOOK_URL …`.
let environment = ProcessInfo.processInfo.environment
let context = WazuhRunContext(
    home: wazuhHome(environment: environment, executablePath: currentExecutablePath()),
    environment: environment
)
exit(await IntegratordRun.run(arguments: Array(CommandLine.arguments.dropFirst()), context: context))
