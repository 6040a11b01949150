/**
 * The CloudFormation template for CryptoPulse on AWS, generated from code:
 *   npm run infra:template -- --output DIR    (writes DIR/cryptopulse.template.json)
 *
 * Why a typed generator rather than the AWS CDK or a hand-written YAML file:
 * - One source for the tables. The DynamoDB tables, their keys, indexes and TTL come from
 *   infra/dynamodb/tables.ts, the same definitions `npm run db:create` and the store use, and so
 *   do the IAM resources naming them: a table added there is in the next template, with its
 *   permissions, and nothing can drift.
 * - Offline and dependency-free. It is a function from definitions to a JSON object: no CDK
 *   toolkit, no bootstrap stack in the account, no asset bucket, nothing downloaded at synth time.
 *   What the operator deploys is the plain template they can read, diff and review.
 * - Testable to the statement. test/deploy-stack.test.ts reads the object this returns and
 *   checks every IAM statement's actions and resources against the SDK commands the code sends.
 *   CDK's grant helpers would add actions of their own (grantReadWriteData includes Scan and
 *   ConditionCheckItem), which is what the least-privilege requirement rules out anyway.
 *
 * What the stack holds:
 * - the tables (billing from TableCapacity: on demand, or provisioned within the free tier);
 * - BotRole, the instances' runtime role: exactly the DynamoDB and SNS actions the bot sends on
 *   exactly its tables, indexes and per-user topics, plus writing its own log group and reading
 *   its own SSM parameter path (chat tokens). It cannot create, change or delete a table;
 * - OperatorPolicy, attached to nothing: what `npm run db:create` still does once the stack owns
 *   the tables (check them, seed the default coins, migrate alerts saved by an earlier release);
 * - a launch template and Auto Scaling group whose user data installs Node 22, builds the bot
 *   and runs the compiled entry point under systemd (infra/deploy/cryptopulse.service);
 * - security groups, and an optional Application Load Balancer (when CertificateArn is set) with
 *   health checks on /healthz;
 * - a CloudWatch log group fed by the CloudWatch agent, and alarms (bot errors, CPU, DynamoDB
 *   throttling, load balancer 5xx and latency) notifying an operators' SNS topic.
 */
import { TABLES, createTableInput, type TableDefinition } from '../dynamodb/tables';

/** Every table of tables.ts: the stack has exactly the tables db:create makes. */
const ALL_TABLES = Object.values(TABLES) as readonly TableDefinition[];

/** A JSON value: what a CloudFormation template is made of. */
export type Cfn = string | number | boolean | null | Cfn[] | { [key: string]: Cfn };
type CfnObject = { [key: string]: Cfn };

// ---- intrinsic functions ----------------------------------------------------------------------

const ref = (name: string): CfnObject => ({ Ref: name });
const sub = (text: string): CfnObject => ({ 'Fn::Sub': text });
const getAtt = (resource: string, attribute: string): CfnObject => ({ 'Fn::GetAtt': [resource, attribute] });
const ifThen = (condition: string, then: Cfn, otherwise: Cfn): CfnObject => ({ 'Fn::If': [condition, then, otherwise] });
const NO_VALUE = ref('AWS::NoValue');

/** Conditions: the load balancer exists when a certificate is given; provisioned billing; an operator email to subscribe. */
const HAS_LOAD_BALANCER = 'HasLoadBalancer';
const PROVISIONED = 'ProvisionedCapacity';
const HAS_OPERATOR_EMAIL = 'HasOperatorEmail';

/** `arn:...:table/${TablePrefix}` — the start of every table ARN this stack grants. */
export const TABLE_ARN_PREFIX = 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}';
export const TOPIC_ARN_PATTERN = 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${SnsTopicPrefix}*';
/** The log group's ARN without the `:*` suffix CloudFormation's GetAtt adds; its streams are under `:log-stream:`. */
export const LOG_STREAMS_ARN = 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:log-stream:*';
export const CONFIG_PARAMETERS_ARN = 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterPath}';

/** The namespace of the bot's own metrics (the error count from its log). */
export const METRIC_NAMESPACE = 'CryptoPulse';

// ---- table capacity ---------------------------------------------------------------------------

/**
 * DynamoDB's always-free tier: 25 read and 25 write capacity units in total across every
 * provisioned table and global index of the account and region. With TableCapacity=PROVISIONED
 * the stack stays inside it (the test sums the units); another provisioned table in the same
 * account and region would push the total over, and AWS would bill the excess.
 */
export const FREE_TIER_UNITS = 25;

/**
 * Who gets units above the floor of one, in this order, while the budget lasts. Every table and
 * index needs at least 1 read and 1 write unit. At idle the bot reads a few units a minute (the
 * outbox queue every 5 s, the alert change feed each price poll: 4 shards of at most 0.5 unit
 * each), well under one unit per second anywhere, and unused capacity accrues as burst capacity
 * (up to 300 s of it). `idempotency` comes first because it is the one table written at idle:
 * every instance renews the job lease there every LEASE_SECONDS / 3 (0.1 unit/s each), the leader
 * publishes its prices there each poll (a ~3 KB item: 0.1 unit/s at 30 s) and counts the CoinGecko
 * budget there, which with three instances is about half of one unit. The rest go to the trade
 * path: a trade is one TransactWriteItems, which costs 2 write units per item it writes, on the
 * portfolio, the ledger (and its feed index), the idempotency record and the counters.
 */
const EXTRA_UNITS_ORDER = ['idempotency', 'transactions', 'portfolios', 'transactions/feed-index', 'counters', 'outbox', 'outbox/queue-index', 'price-alerts'];

export interface Capacity {
  read: number;
  write: number;
}

/**
 * Provisioned units for every table (`name`) and global index (`name/index`), the same for reads
 * and writes, summing to at most FREE_TIER_UNITS. Throws when the tables and indexes alone need
 * more than the free tier (more than 25 of them): then only on-demand billing fits.
 */
export function provisionedCapacity(definitions: readonly TableDefinition[] = ALL_TABLES): Map<string, Capacity> {
  const entities = definitions.flatMap((t) => [t.name, ...(t.globalIndexes ?? []).map((i) => `${t.name}/${i.name}`)]);
  if (entities.length > FREE_TIER_UNITS) {
    throw new Error(`${entities.length} tables and global indexes need at least ${entities.length} units each way, more than the free tier's ${FREE_TIER_UNITS}: use TableCapacity=PAY_PER_REQUEST`);
  }
  const units = new Map(entities.map((e) => [e, 1]));
  let spare = FREE_TIER_UNITS - entities.length;
  for (let round = 0; spare > 0 && round < FREE_TIER_UNITS; round++) {
    for (const entity of EXTRA_UNITS_ORDER) {
      if (spare === 0) break;
      if (!units.has(entity)) continue;
      units.set(entity, units.get(entity)! + 1);
      spare--;
    }
  }
  return new Map([...units].map(([entity, n]) => [entity, { read: n, write: n }]));
}

const throughput = (capacity: Capacity | undefined): Cfn =>
  ifThen(PROVISIONED, { ReadCapacityUnits: capacity?.read ?? 1, WriteCapacityUnits: capacity?.write ?? 1 }, NO_VALUE);

/** `price-alerts` → `TablePriceAlerts`: the logical id of a table resource. */
export const tableLogicalId = (def: TableDefinition): string =>
  `Table${def.name.split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`;

/**
 * One table as an AWS::DynamoDB::Table, from the same CreateTable input db:create sends, so keys,
 * attribute types, indexes and projections are the same by construction. Retained on stack
 * deletion and replacement (the data outlives the stack), with deletion protection and
 * point-in-time recovery as db:create sets them.
 */
function tableResource(def: TableDefinition, capacity: Map<string, Capacity>): CfnObject {
  const input = createTableInput(def, '');
  const properties: CfnObject = {
    TableName: sub(`\${TablePrefix}${def.name}`),
    BillingMode: ref('TableCapacity'),
    AttributeDefinitions: (input.AttributeDefinitions ?? []).map((a) => ({ AttributeName: a.AttributeName!, AttributeType: a.AttributeType! })),
    KeySchema: (input.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName!, KeyType: k.KeyType! })),
    ProvisionedThroughput: throughput(capacity.get(def.name)),
    DeletionProtectionEnabled: true,
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  };
  if (input.GlobalSecondaryIndexes?.length) {
    properties.GlobalSecondaryIndexes = input.GlobalSecondaryIndexes.map((index) => ({
      IndexName: index.IndexName!,
      KeySchema: index.KeySchema!.map((k) => ({ AttributeName: k.AttributeName!, KeyType: k.KeyType! })),
      Projection: { ProjectionType: index.Projection!.ProjectionType! },
      ProvisionedThroughput: throughput(capacity.get(`${def.name}/${index.IndexName}`)),
    }));
  }
  if (input.LocalSecondaryIndexes?.length) {
    properties.LocalSecondaryIndexes = input.LocalSecondaryIndexes.map((index) => ({
      IndexName: index.IndexName!,
      KeySchema: index.KeySchema!.map((k) => ({ AttributeName: k.AttributeName!, KeyType: k.KeyType! })),
      Projection: { ProjectionType: index.Projection!.ProjectionType! },
    }));
  }
  if (def.ttlAttribute) properties.TimeToLiveSpecification = { AttributeName: def.ttlAttribute, Enabled: true };
  return { Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: properties };
}

// ---- IAM --------------------------------------------------------------------------------------

/**
 * The DynamoDB item actions the store sends (infra/dynamodb/dynamodb-store.ts). TransactWriteItems
 * is no IAM action of its own: each Put, Update and Delete inside a transaction is authorised as
 * PutItem, UpdateItem and DeleteItem. DescribeTable is the start-up check that the tables exist.
 */
export const RUNTIME_TABLE_ACTIONS = ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'Query', 'DescribeTable'];
/** The SNS actions of the email notifier (infra/email/sns-notifier.ts). */
export const RUNTIME_TOPIC_ACTIONS = ['CreateTopic', 'SetTopicAttributes', 'ListSubscriptionsByTopic', 'Subscribe', 'Unsubscribe', 'Publish', 'DeleteTopic'];

const tableArn = (def: TableDefinition) => sub(`${TABLE_ARN_PREFIX}${def.name}`);
const indexArns = (def: TableDefinition) =>
  [...(def.globalIndexes ?? []), ...(def.localIndexes ?? [])].map((i) => sub(`${TABLE_ARN_PREFIX}${def.name}/index/${i.name}`));

function runtimeStatements(definitions: readonly TableDefinition[]): Cfn[] {
  return [
    { Sid: 'Tables', Effect: 'Allow', Action: RUNTIME_TABLE_ACTIONS.map((a) => `dynamodb:${a}`), Resource: definitions.map(tableArn) },
    // Indexes are only ever queried.
    { Sid: 'Indexes', Effect: 'Allow', Action: 'dynamodb:Query', Resource: definitions.flatMap(indexArns) },
    // The per-user email topics. Unsubscribe is authorised on the subscription's ARN, which is
    // the topic's ARN followed by `:<subscription id>`, so the topic prefix covers this
    // environment's subscriptions and nothing else.
    { Sid: 'EmailTopics', Effect: 'Allow', Action: RUNTIME_TOPIC_ACTIONS.map((a) => `sns:${a}`), Resource: sub(TOPIC_ARN_PATTERN) },
    // The CloudWatch agent writes the bot's log into this stack's group, one stream per
    // instance. The group exists (the stack made it), so the agent never needs CreateLogGroup.
    { Sid: 'Logs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: sub(LOG_STREAMS_ARN) },
    // First boot reads the chat tokens from this path (GetParametersByPath is authorised on the
    // path itself). SecureString values under the default aws/ssm key need no KMS statement: that
    // key lets every principal of the account decrypt through SSM.
    { Sid: 'ConfigParameters', Effect: 'Allow', Action: 'ssm:GetParametersByPath', Resource: sub(CONFIG_PARAMETERS_ARN) },
  ];
}

/**
 * What `npm run db:create` sends once the stack owns the tables: the tables, their indexes, TTL,
 * deletion protection and point-in-time recovery are already as tables.ts says, so ensureTables
 * only describes them; then it seeds the default coins once and migrates alerts saved by an
 * earlier release (infra/dynamodb/migrate-alerts.ts: one Scan, a conditional update per old
 * alert). CreateTable, UpdateTable, UpdateTimeToLive and UpdateContinuousBackups are left out on
 * purpose: on AWS the stack alone changes the tables, so a template out of step with tables.ts
 * makes db:create stop with AccessDenied instead of changing stack-owned tables behind
 * CloudFormation's back. (Locally, against DynamoDB Local, db:create still creates everything.)
 */
function operatorStatements(definitions: readonly TableDefinition[]): Cfn[] {
  const named = (name: string) => sub(`${TABLE_ARN_PREFIX}${name}`);
  return [
    {
      Sid: 'CheckTables',
      Effect: 'Allow',
      Action: ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:DescribeContinuousBackups'],
      Resource: definitions.map(tableArn),
    },
    { Sid: 'SeedCoins', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: named(TABLES.trackedCoins.name) },
    { Sid: 'MigrateAlerts', Effect: 'Allow', Action: ['dynamodb:Scan', 'dynamodb:UpdateItem'], Resource: named(TABLES.priceAlerts.name) },
  ];
}

// ---- the instance -----------------------------------------------------------------------------

/** Where the bot's output goes on the instance, for the CloudWatch agent to ship. */
export const LOG_FILE = '/var/log/cryptopulse/cryptopulse.log';

/**
 * First boot, as root, through `Fn::Sub` (so `${Name}` is a parameter or resource and `${!x}` is a
 * shell `${x}`). Root installs packages and writes root-owned configuration; everything of the
 * application (clone, npm ci, build) runs as the unprivileged service user, so no package's
 * install script ever runs as root.
 */
const USER_DATA = `#!/bin/bash
set -euxo pipefail
# Node 22 LTS (Amazon Linux 2023 namespaces Node versions; pin the active one), git, the CloudWatch agent, logrotate.
dnf install -y nodejs22 nodejs22-npm git amazon-cloudwatch-agent logrotate
alternatives --set node /usr/bin/node-22
node --version
id cryptopulse || useradd --system --user-group --create-home --home-dir /opt/cryptopulse --shell /sbin/nologin cryptopulse
sudo -u cryptopulse -H git clone --branch \${GitRef} --depth 1 \${RepositoryUrl} /opt/cryptopulse/app
# Built to JavaScript (the TypeScript compiler is a dev dependency, dropped after the build).
sudo -u cryptopulse -H bash -c 'cd /opt/cryptopulse/app && npm ci && npm run build && npm prune --omit=dev'

# Configuration. The tables are this stack's; the bot's role cannot create them. Behind the load
# balancer the bot listens on the instance's interface (the security group admits only the load
# balancer); without one it keeps to loopback and needs no inbound port (Telegram long polling,
# Discord gateway, Slack Socket Mode).
umask 077
cat > /etc/cryptopulse.env <<ENV
STORE=dynamodb
AWS_REGION=\${AWS::Region}
TABLE_PREFIX=\${TablePrefix}
SNS_ENABLED=true
SNS_TOPIC_PREFIX=\${SnsTopicPrefix}
HOST=\${ListenHost}
PORT=\${Port}
ENV
# Chat tokens and the rest: every parameter under ConfigParameterPath (SecureString decrypted),
# named after the variable (\${ConfigParameterPath}/TELEGRAM_BOT_TOKEN). None there is no error.
aws ssm get-parameters-by-path --region \${AWS::Region} --path '\${ConfigParameterPath}' --with-decryption \\
  --query 'Parameters[].[Name,Value]' --output text | while IFS=$'\\t' read -r name value; do
  echo "\${!name##*/}=\${!value}" >> /etc/cryptopulse.env
done
chmod 600 /etc/cryptopulse.env
umask 022

# The bot's output into a file the CloudWatch agent ships to the stack's log group (one stream
# per instance). systemd opens the file before dropping to the service user, so the sandboxed
# bot needs no write access to /var/log.
install -m 644 /opt/cryptopulse/app/infra/deploy/cryptopulse.service /etc/systemd/system/cryptopulse.service
mkdir -p /etc/systemd/system/cryptopulse.service.d /var/log/cryptopulse
cat > /etc/systemd/system/cryptopulse.service.d/cloudwatch.conf <<UNIT
[Service]
StandardOutput=append:${LOG_FILE}
StandardError=append:${LOG_FILE}
UNIT
cat > /etc/logrotate.d/cryptopulse <<ROTATE
${LOG_FILE} {
  daily
  rotate 3
  maxsize 50M
  missingok
  notifempty
  compress
  copytruncate
}
ROTATE
cat > /opt/aws/amazon-cloudwatch-agent/etc/cryptopulse.json <<AGENT
{"logs": {"logs_collected": {"files": {"collect_list": [
  {"file_path": "${LOG_FILE}", "log_group_name": "\${LogGroup}", "log_stream_name": "{instance_id}"}
]}}}}
AGENT
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/cryptopulse.json

# The compiled entry point (dist/src/main.js) under systemd, restarted on failure.
systemctl daemon-reload
systemctl enable --now cryptopulse
`;

// ---- the template -----------------------------------------------------------------------------

const ALLOWED_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 180, 365];

function parameters(): CfnObject {
  return {
    RepositoryUrl: {
      Type: 'String',
      Description: 'HTTPS Git URL the instances clone the bot from',
      // Written into the user data's shell commands: no spaces, quotes or shell characters.
      AllowedPattern: '^https://[A-Za-z0-9._~:/@+-]+$',
    },
    GitRef: {
      Type: 'String',
      Default: 'main',
      Description: 'Branch or tag to deploy; changing it rolls the instances one by one',
      AllowedPattern: '^[A-Za-z0-9._/-]{1,100}$',
    },
    InstanceType: { Type: 'String', Default: 't3.micro', Description: 'EC2 instance type (t2.micro or t3.micro are free-tier eligible, depending on the region)' },
    LatestAmiId: {
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      Default: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      Description: 'Amazon Linux 2023 image (it packages nodejs22)',
    },
    VpcId: { Type: 'AWS::EC2::VPC::Id', Description: 'VPC of the instances and the load balancer' },
    SubnetIds: {
      Type: 'List<AWS::EC2::Subnet::Id>',
      Description: 'Subnets in two or more availability zones (the load balancer needs two); they need a route to the internet',
    },
    AssociatePublicIp: {
      Type: 'String',
      Default: 'true',
      AllowedValues: ['true', 'false'],
      Description: 'Give instances a public address (public subnets without a NAT gateway); no inbound port is opened by it',
    },
    MinSize: { Type: 'Number', Default: 1, MinValue: 0, Description: 'Fewest instances' },
    MaxSize: { Type: 'Number', Default: 1, MinValue: 1, Description: 'Most instances' },
    DesiredCapacity: { Type: 'Number', Default: 1, MinValue: 0, Description: 'Instances to run' },
    Port: { Type: 'Number', Default: 3000, MinValue: 1024, MaxValue: 65535, Description: "The bot's HTTP server (PORT): /healthz, webhooks" },
    CertificateArn: {
      Type: 'String',
      Default: '',
      Description: 'ACM certificate for the load balancer. Empty: no load balancer, the bot listens on 127.0.0.1 only',
    },
    TablePrefix: {
      Type: 'String',
      Default: 'cryptopulse-',
      // No IAM wildcards (* ?) can sneak into the table ARNs: same characters as TABLE_PREFIX.
      AllowedPattern: '^[A-Za-z0-9_.-]{0,64}$',
      Description: "Prefix of this environment's DynamoDB tables (TABLE_PREFIX)",
    },
    TableCapacity: {
      Type: 'String',
      Default: 'PAY_PER_REQUEST',
      AllowedValues: ['PAY_PER_REQUEST', 'PROVISIONED'],
      Description: `On demand, or provisioned within the free tier (${FREE_TIER_UNITS} read and ${FREE_TIER_UNITS} write units across all tables and indexes). DynamoDB limits how often a table may switch`,
    },
    SnsTopicPrefix: {
      Type: 'String',
      Default: 'cryptopulse-user-',
      AllowedPattern: '^[A-Za-z0-9_-]{1,100}$',
      Description:
        "Prefix of this environment's per-user SNS topics (SNS_TOPIC_PREFIX). The role may use every topic whose name starts with it, so give each environment a prefix that does not start another's",
    },
    ConfigParameterPath: {
      Type: 'String',
      Default: '/cryptopulse/prod',
      // No wildcard can widen the role's ssm resource.
      AllowedPattern: '^(/[A-Za-z0-9_.-]+)+$',
      Description: 'SSM Parameter Store path whose parameters (NAME=value, e.g. /cryptopulse/prod/TELEGRAM_BOT_TOKEN) go into /etc/cryptopulse.env at first boot',
    },
    OperatorEmail: { Type: 'String', Default: '', Description: 'Email subscribed to the operators\' alarm topic (empty: subscribe later)' },
    LogRetentionDays: { Type: 'Number', Default: 30, AllowedValues: ALLOWED_RETENTION_DAYS, Description: 'Days CloudWatch keeps the bot log' },
  };
}

/** The alarm actions: into the operators' topic, and again when the alarm clears. */
const notify = { AlarmActions: [ref('OpsTopic')], OKActions: [ref('OpsTopic')] };

/**
 * DynamoDB throttling on one table of this stack: read and write throttle events of the table and
 * of each of its global indexes (an index that cannot keep up throttles the table's writes),
 * summed with metric math. One alarm per table because CloudWatch cannot select "these tables"
 * in one query: Metrics Insights' WHERE has only =, != and AND, and a bare FROM "AWS/DynamoDB"
 * would also fire for other applications' tables. Each alarm names its table, so none reaches
 * outside the stack; 2 + 2 × (indexes) metrics each, 6 at most today. CloudWatch bills alarms by
 * the metric (beyond its free ones), so these are the stack's largest monitoring cost.
 */
function throttleAlarm(def: TableDefinition): CfnObject {
  const dimensionSets: CfnObject[][] = [
    [{ Name: 'TableName', Value: sub(`\${TablePrefix}${def.name}`) }],
    ...(def.globalIndexes ?? []).map((index) => [
      { Name: 'TableName', Value: sub(`\${TablePrefix}${def.name}`) },
      { Name: 'GlobalSecondaryIndexName', Value: index.name },
    ]),
  ];
  const metrics: Cfn[] = dimensionSets.flatMap((dimensions, i) =>
    ['ReadThrottleEvents', 'WriteThrottleEvents'].map((metric) => ({
      Id: `${metric === 'ReadThrottleEvents' ? 'read' : 'write'}${i}`,
      MetricStat: { Metric: { Namespace: 'AWS/DynamoDB', MetricName: metric, Dimensions: dimensions }, Period: 300, Stat: 'Sum' },
      ReturnData: false,
    })),
  );
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: sub(`DynamoDB throttled requests on \${TablePrefix}${def.name} or its indexes: capacity too low (PROVISIONED) or a hot partition`),
      Metrics: [...metrics, { Id: 'throttles', Label: 'Read and write throttle events', Expression: 'SUM(FILL(METRICS(), 0))', ReturnData: true }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      ...notify,
    },
  };
}

/** A load balancer alarm (only with the load balancer). */
function loadBalancerAlarm(description: string, metric: CfnObject, comparison: string, threshold: number, periods: number): CfnObject {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Condition: HAS_LOAD_BALANCER,
    Properties: {
      AlarmDescription: description,
      Namespace: 'AWS/ApplicationELB',
      Period: 60,
      EvaluationPeriods: periods,
      DatapointsToAlarm: periods,
      ComparisonOperator: comparison,
      Threshold: threshold,
      TreatMissingData: 'notBreaching',
      ...metric,
      ...notify,
    },
  };
}

export function buildTemplate(definitions: readonly TableDefinition[] = ALL_TABLES): CfnObject {
  const capacity = provisionedCapacity(definitions);
  const tables = Object.fromEntries(definitions.map((def) => [tableLogicalId(def), tableResource(def, capacity)]));
  const loadBalancerDimension = [{ Name: 'LoadBalancer', Value: getAtt('LoadBalancer', 'LoadBalancerFullName') }];

  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: 'CryptoPulse paper-trading chat bot: DynamoDB tables, EC2 Auto Scaling group, optional load balancer, logs and alarms (generated by npm run infra:template)',
    Parameters: parameters(),
    Conditions: {
      [HAS_LOAD_BALANCER]: { 'Fn::Not': [{ 'Fn::Equals': [ref('CertificateArn'), ''] }] },
      [PROVISIONED]: { 'Fn::Equals': [ref('TableCapacity'), 'PROVISIONED'] },
      [HAS_OPERATOR_EMAIL]: { 'Fn::Not': [{ 'Fn::Equals': [ref('OperatorEmail'), ''] }] },
    },
    Resources: {
      ...tables,

      BotRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          // Session Manager instead of SSH: operators reach the instances with no inbound port.
          ManagedPolicyArns: [sub('arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore')],
          Policies: [{ PolicyName: 'cryptopulse-runtime', PolicyDocument: { Version: '2012-10-17', Statement: runtimeStatements(definitions) } }],
        },
      },
      BotInstanceProfile: { Type: 'AWS::IAM::InstanceProfile', Properties: { Roles: [ref('BotRole')] } },

      // Attach to the operator's IAM user, group or role; nothing in the stack uses it.
      OperatorPolicy: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: {
          Description: 'CryptoPulse db:create - check the stack tables, seed the coins, migrate old alerts',
          PolicyDocument: { Version: '2012-10-17', Statement: operatorStatements(definitions) },
        },
      },

      // ---- logs and alarms
      // Deleted with the stack (said explicitly): a retained group would keep its name and make a
      // stack of the same name fail to create it again.
      LogGroup: {
        Type: 'AWS::Logs::LogGroup',
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
        Properties: { LogGroupName: sub('/cryptopulse/${AWS::StackName}'), RetentionInDays: ref('LogRetentionDays') },
      },
      // pino writes one JSON object per line; level 50 is error, 60 fatal.
      ErrorMetricFilter: {
        Type: 'AWS::Logs::MetricFilter',
        Properties: {
          LogGroupName: ref('LogGroup'),
          FilterPattern: '{ $.level >= 50 }',
          MetricTransformations: [{ MetricNamespace: METRIC_NAMESPACE, MetricName: sub('Errors-${AWS::StackName}'), MetricValue: '1', DefaultValue: 0, Unit: 'Count' }],
        },
      },
      OpsTopic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: 'CryptoPulse alarms' } },
      OpsTopicEmail: {
        Type: 'AWS::SNS::Subscription',
        Condition: HAS_OPERATOR_EMAIL,
        Properties: { TopicArn: ref('OpsTopic'), Protocol: 'email', Endpoint: ref('OperatorEmail') },
      },
      ErrorsAlarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmDescription: 'The bot logged errors (level >= 50) in the last 5 minutes: see the log group',
          Namespace: METRIC_NAMESPACE,
          MetricName: sub('Errors-${AWS::StackName}'),
          Statistic: 'Sum',
          Period: 300,
          EvaluationPeriods: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Threshold: 1,
          TreatMissingData: 'notBreaching',
          ...notify,
        },
      },
      CpuAlarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmDescription: 'Average CPU of the bot instances above 80% for 15 minutes (a burstable instance also runs out of credits)',
          Namespace: 'AWS/EC2',
          MetricName: 'CPUUtilization',
          Dimensions: [{ Name: 'AutoScalingGroupName', Value: ref('AutoScalingGroup') }],
          Statistic: 'Average',
          Period: 300,
          EvaluationPeriods: 3,
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 80,
          TreatMissingData: 'missing',
          ...notify,
        },
      },
      ...Object.fromEntries(definitions.map((def) => [`${tableLogicalId(def)}ThrottleAlarm`, throttleAlarm(def)])),
      Target5xxAlarm: loadBalancerAlarm(
        'The bot answered 5 or more 5xx responses a minute, 3 minutes running',
        { MetricName: 'HTTPCode_Target_5XX_Count', Statistic: 'Sum', Dimensions: loadBalancerDimension },
        'GreaterThanOrEqualToThreshold', 5, 3,
      ),
      LoadBalancer5xxAlarm: loadBalancerAlarm(
        'The load balancer itself answered 5xx (no healthy instance, or the bot did not answer), 3 minutes running',
        { MetricName: 'HTTPCode_ELB_5XX_Count', Statistic: 'Sum', Dimensions: loadBalancerDimension },
        'GreaterThanOrEqualToThreshold', 1, 3,
      ),
      LatencyAlarm: loadBalancerAlarm(
        'p90 response time of the bot above 2 s for 5 minutes (webhooks must be answered within 3 s)',
        { MetricName: 'TargetResponseTime', ExtendedStatistic: 'p90', Dimensions: loadBalancerDimension },
        'GreaterThanThreshold', 2, 5,
      ),

      // ---- network
      InstanceSecurityGroup: {
        Type: 'AWS::EC2::SecurityGroup',
        Properties: {
          GroupDescription: 'CryptoPulse instances: outbound to chat platforms and AWS; inbound only the bot port, only from the load balancer',
          VpcId: ref('VpcId'),
        },
      },
      LoadBalancerSecurityGroup: {
        Type: 'AWS::EC2::SecurityGroup',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          GroupDescription: 'CryptoPulse load balancer: HTTPS (and HTTP, redirected) from the internet',
          VpcId: ref('VpcId'),
          SecurityGroupIngress: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' },
            { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, CidrIp: '0.0.0.0/0' },
          ],
        },
      },
      InstanceIngressFromLoadBalancer: {
        Type: 'AWS::EC2::SecurityGroupIngress',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          GroupId: getAtt('InstanceSecurityGroup', 'GroupId'),
          IpProtocol: 'tcp',
          FromPort: ref('Port'),
          ToPort: ref('Port'),
          SourceSecurityGroupId: getAtt('LoadBalancerSecurityGroup', 'GroupId'),
        },
      },

      // ---- instances
      LaunchTemplate: {
        Type: 'AWS::EC2::LaunchTemplate',
        Properties: {
          LaunchTemplateData: {
            ImageId: ref('LatestAmiId'),
            InstanceType: ref('InstanceType'),
            IamInstanceProfile: { Arn: getAtt('BotInstanceProfile', 'Arn') },
            MetadataOptions: { HttpTokens: 'required' },
            NetworkInterfaces: [{ DeviceIndex: 0, AssociatePublicIpAddress: ref('AssociatePublicIp'), Groups: [getAtt('InstanceSecurityGroup', 'GroupId')] }],
            UserData: {
              'Fn::Base64': {
                'Fn::Sub': [USER_DATA, { ListenHost: ifThen(HAS_LOAD_BALANCER, '0.0.0.0', '127.0.0.1') }],
              },
            },
          },
        },
      },
      AutoScalingGroup: {
        Type: 'AWS::AutoScaling::AutoScalingGroup',
        // A new launch template version (another GitRef, say) replaces instances one at a time.
        UpdatePolicy: { AutoScalingRollingUpdate: { MaxBatchSize: 1, MinInstancesInService: 0 } },
        Properties: {
          MinSize: ref('MinSize'),
          MaxSize: ref('MaxSize'),
          DesiredCapacity: ref('DesiredCapacity'),
          VPCZoneIdentifier: ref('SubnetIds'),
          LaunchTemplate: { LaunchTemplateId: ref('LaunchTemplate'), Version: getAtt('LaunchTemplate', 'LatestVersionNumber') },
          TargetGroupARNs: ifThen(HAS_LOAD_BALANCER, [ref('TargetGroup')], NO_VALUE),
          // With the load balancer an instance whose /healthz fails is replaced; first boot
          // (npm ci and the build on a small instance) gets 15 minutes before that counts.
          HealthCheckType: ifThen(HAS_LOAD_BALANCER, 'ELB', 'EC2'),
          HealthCheckGracePeriod: 900,
          Tags: [{ Key: 'Name', Value: sub('${AWS::StackName}-bot'), PropagateAtLaunch: true }],
        },
      },

      // ---- load balancer (only with CertificateArn)
      LoadBalancer: {
        Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
        Condition: HAS_LOAD_BALANCER,
        Properties: { Type: 'application', Scheme: 'internet-facing', Subnets: ref('SubnetIds'), SecurityGroups: [getAtt('LoadBalancerSecurityGroup', 'GroupId')] },
      },
      TargetGroup: {
        Type: 'AWS::ElasticLoadBalancingV2::TargetGroup',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          VpcId: ref('VpcId'),
          TargetType: 'instance',
          Protocol: 'HTTP',
          Port: ref('Port'),
          HealthCheckProtocol: 'HTTP',
          HealthCheckPath: '/healthz',
          HealthCheckPort: 'traffic-port',
          HealthCheckIntervalSeconds: 15,
          HealthyThresholdCount: 2,
          UnhealthyThresholdCount: 3,
          Matcher: { HttpCode: '200' },
          // The unit gives the bot 30 s to finish in-flight commands on SIGTERM: drain as long.
          TargetGroupAttributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
        },
      },
      HttpsListener: {
        Type: 'AWS::ElasticLoadBalancingV2::Listener',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          LoadBalancerArn: ref('LoadBalancer'),
          Port: 443,
          Protocol: 'HTTPS',
          SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
          Certificates: [{ CertificateArn: ref('CertificateArn') }],
          DefaultActions: [{ Type: 'forward', TargetGroupArn: ref('TargetGroup') }],
        },
      },
      // /metrics is for the operators' scraper inside the VPC, not the internet: the load balancer
      // answers it itself with a 404 and never forwards it.
      MetricsNotPublicRule: {
        Type: 'AWS::ElasticLoadBalancingV2::ListenerRule',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          ListenerArn: ref('HttpsListener'),
          Priority: 1,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
          Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'Not found' } }],
        },
      },
      HttpRedirectListener: {
        Type: 'AWS::ElasticLoadBalancingV2::Listener',
        Condition: HAS_LOAD_BALANCER,
        Properties: {
          LoadBalancerArn: ref('LoadBalancer'),
          Port: 80,
          Protocol: 'HTTP',
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
        },
      },
    },
    Outputs: {
      AutoScalingGroupName: { Value: ref('AutoScalingGroup') },
      RoleArn: { Value: getAtt('BotRole', 'Arn') },
      OperatorPolicyArn: { Description: 'Attach to the operator who runs npm run db:create', Value: ref('OperatorPolicy') },
      OpsTopicArn: { Description: "Operators' alarm topic: subscribe more endpoints here", Value: ref('OpsTopic') },
      LogGroupName: { Value: ref('LogGroup') },
      LoadBalancerDnsName: {
        Condition: HAS_LOAD_BALANCER,
        Description: 'Point the webhook host name (CNAME or alias) here; webhooks go to https://<host>/...',
        Value: getAtt('LoadBalancer', 'DNSName'),
      },
    },
  };
}
