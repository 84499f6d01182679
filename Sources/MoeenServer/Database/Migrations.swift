import Fluent

/// Every migration, in order. Never edit one that has shipped: add `UpdateXAddY` instead.
func registerMigrations(_ migrations: Migrations) {
    migrations.add(CreateUsers())
    migrations.add(CreateAPITokens())
    migrations.add(CreateSessions())
    migrations.add(CreateSetupTokens())
    migrations.add(CreatePatients())
    migrations.add(CreateIntegrationConfigs())
    migrations.add(CreateIntegrationTestLogs())
    migrations.add(CreateAuditLogs())
    migrations.add(CreateCRMContacts())
    migrations.add(CreateCRMLeads())
    migrations.add(CreateCRMDeals())
    migrations.add(CreateCRMContactActivities())
    migrations.add(CreateProgressGoals())
    migrations.add(CreateProgressAssessments())
    migrations.add(CreateProgressReports())
    migrations.add(CreateTrainingPrograms())
    migrations.add(CreateTrainingProgress())
    migrations.add(CreateFamilyMembers())
    migrations.add(CreateSupportSessions())
    migrations.add(CreateResources())
    migrations.add(CreateIntegrationDataKeys())
    migrations.add(CreateKeyRotations())
    migrations.add(CreateIntegrationHealthHistory())
}
