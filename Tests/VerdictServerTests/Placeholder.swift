import Testing
import HummingbirdTesting
@testable import VerdictServer
