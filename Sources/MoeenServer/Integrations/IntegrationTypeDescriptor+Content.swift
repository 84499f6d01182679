import MoeenCore
import Vapor

extension IntegrationTypeDescriptor: Content {}
