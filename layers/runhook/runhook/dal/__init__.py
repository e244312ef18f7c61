"""Data access: DynamoDB adapters. The only modules that speak DynamoDB's wire format."""
