// Alerts on the app's telemetry in Application Insights (log search alerts, evaluated every 5 minutes),
// sent to an action group that mails alertEmail when one is given. What each one watches:
//   5xx rate         requests answered 5xx, over 5 % of at least 20 in 5 minutes
//   health failing   /api/health answered 503 twice in a row: a dependency down (the broker
//                    included) or a trigger queue without a consumer (docs/deploy.md, section 2)
//   dead letters     a handler moved a message to a dead-letter queue (shop.messages.deadlettered)
//   DLQ not empty    a dead-letter queue holds messages (gauge shop.queue.dead_letter_depth, read by
//                    every instance at each metric export): fires every 5 minutes until it is drained
//   orders stuck     the oldest PENDING order was checked out more than 300 s ago (gauge
//                    shop.orders.oldest_pending_age_seconds); the resolver should have finished it
//   consumer missing a trigger queue has no consumer (gauge shop.queue.consumers{queue} == 0, read
//                    by every instance at each metric export): the host disabled or lost that
//                    trigger; the consumer watchdog restarts the app after 5 minutes of it
//                    (docs/deploy.md, section 2), so a firing that lasts longer needs a look
// and, on the Log Analytics workspace, for the broker VM (its metrics table, rabbitmq-vm.bicep):
//   broker down      no sample from rabbitmq_prometheus for 10 minutes (broker stopped or hung, VM
//                    down, or the agent not shipping: each needs a look)
//   broker alarm     a memory or disk alarm is on: the broker blocks every publisher
// https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule
param location string
param tags object
param applicationInsightsId string
param workspaceId string

@description('The broker VM\'s metrics table (rabbitmq.bicep); empty with an existing broker, which gets no broker alerts here.')
param brokerMetricsTable string

@description('Where alerts are mailed; empty: the alerts fire in the portal only.')
param alertEmail string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-shop'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'shop'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'alert-5xx-rate'
    description: 'More than 5 % of API requests answered 5xx (at least 20 requests in 5 minutes).'
    severity: 1
    query: 'requests | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total >= 20 and failed * 100.0 / total > 5'
  }
  {
    name: 'alert-health-failing'
    description: '/api/health answered 503: a dependency (Postgres, Redis, the broker) is down, or a trigger queue has no consumer (the host disabled it; restart the app).'
    severity: 1
    query: 'requests | where url endswith "/api/health" and resultCode == "503"'
  }
  {
    name: 'alert-dead-letters'
    description: 'A message was dead-lettered: inspect it with npm run dead-letters or the dead-letter endpoint.'
    severity: 2
    query: 'customMetrics | where name == "shop.messages.deadlettered" | where valueSum > 0'
  }
  {
    name: 'alert-dead-letter-queue-depth'
    description: 'A dead-letter queue holds messages (shop.queue.dead_letter_depth > 0, by queue): inspect and replay or drop them with npm run dead-letters or the dead-letter endpoint.'
    severity: 2
    // A gauge point carries its observation in value (one per instance and export).
    query: 'customMetrics | where name == "shop.queue.dead_letter_depth" | where value > 0 | extend queue = tostring(customDimensions.queue)'
  }
  {
    name: 'alert-consumer-missing'
    description: 'A trigger queue has no consumer (shop.queue.consumers == 0, by queue): the Functions host disabled or lost that trigger. The consumer watchdog restarts the app after 5 minutes of it; if this keeps firing, check the watchdog\'s log lines and restart the app (az functionapp restart).'
    severity: 1
    query: 'customMetrics | where name == "shop.queue.consumers" | where value == 0 | extend queue = tostring(customDimensions.queue)'
  }
  {
    name: 'alert-orders-stuck-pending'
    description: 'An order is still PENDING more than 5 minutes after checkout (shop.orders.oldest_pending_age_seconds > 300): the pipeline or the resolver is not finishing orders.'
    severity: 1
    query: 'customMetrics | where name == "shop.orders.oldest_pending_age_seconds" | where value > 300'
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: rule.name
    location: location
    tags: tags
    properties: {
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsightsId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT5M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: empty(alertEmail) ? [] : [
          actionGroup.id
        ]
      }
    }
  }
]

var brokerRules = [
  {
    name: 'alert-broker-down'
    description: 'No RabbitMQ metrics sample for 10 minutes: the broker (or its VM, or the Azure Monitor agent) is down. Check the VM and rabbitmq-server with Run Command.'
    severity: 1
    query: '${brokerMetricsTable} | summarize samples = count() | where samples == 0'
  }
  {
    name: 'alert-broker-resource-alarm'
    description: 'A RabbitMQ memory or disk alarm is on: the broker blocks every publisher until it clears.'
    severity: 1
    query: '${brokerMetricsTable} | where Series startswith "rabbitmq_alarms_" and Value > 0'
  }
]

// The agent ships text logs every minute or so, with ingestion latency on top: a 10-minute window
// keeps one slow batch from reading as an outage.
resource brokerAlerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in brokerRules: if (!empty(brokerMetricsTable)) {
    name: rule.name
    location: location
    tags: tags
    properties: {
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        workspaceId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT10M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: empty(alertEmail) ? [] : [
          actionGroup.id
        ]
      }
    }
  }
]
