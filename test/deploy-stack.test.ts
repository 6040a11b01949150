/**
 * The deployment template (infra/deploy/stack.yaml) and its systemd unit, held to the code:
 * - the runtime role grants exactly the DynamoDB and SNS actions the bot's code sends (read from
 *   the SDK commands infra/dynamodb/dynamodb-store.ts and infra/email/sns-notifier.ts import), on
 *   exactly the tables and indexes of infra/dynamodb/tables.ts and the topic prefix: a table added
 *   to tables.ts but not to the stack, a wildcard that reaches other environments' tables, or an
 *   action the code does not send fails here;
 * - creating and changing tables is the operator's policy, which nothing in the stack attaches;
 * - the instance never runs npm (or any package's install script) as root.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES, type TableDefinition } from '../infra/dynamodb/tables';
import { parseCfnYaml, type CfnValue } from './support/cfn-yaml';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

type Json = Record<string, CfnValue>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action?: CfnValue;
  NotAction?: CfnValue;
  Resource?: CfnValue;
  NotResource?: CfnValue;
}

const template = parseCfnYaml(read('infra/deploy/stack.yaml'), 'stack.yaml') as Json;
const resources = template.Resources as Record<string, { Type: string; Properties: Json }>;
const unit = read('infra/deploy/cryptopulse.service');

const list = (value: CfnValue | undefined): CfnValue[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A `!Sub` template string, or the literal string; anything else (a `!Join`...) is not accepted here. */
function arnText(resource: CfnValue): string {
  if (typeof resource === 'string') return resource;
  if (resource && typeof resource === 'object' && !Array.isArray(resource) && typeof resource['Fn::Sub'] === 'string') return resource['Fn::Sub'];
  throw new Error(`resource written in a form this test cannot check: ${JSON.stringify(resource)}`);
}

function statementsOf(policyDocument: CfnValue): Statement[] {
  return list((policyDocument as Json).Statement) as unknown as Statement[];
}

const runtimeRole = resources.BotRole!;
const runtimeStatements = list(runtimeRole.Properties.Policies).flatMap((p) => statementsOf((p as Json).PolicyDocument!));
const operatorPolicy = resources.OperatorPolicy!;
const operatorStatements = statementsOf(operatorPolicy.Properties.PolicyDocument!);

const actionsOf = (statements: Statement[], service: string) =>
  [...new Set(statements.flatMap((s) => list(s.Action) as string[]).filter((a) => a.startsWith(`${service}:`)))].sort();
const resourcesOf = (statements: Statement[], service: string) =>
  [...new Set(statements.filter((s) => (list(s.Action) as string[]).some((a) => a.startsWith(`${service}:`))).flatMap((s) => list(s.Resource).map(arnText)))].sort();

// ---- what the code sends ------------------------------------------------------------------------

/** The SDK command classes a source file imports from the AWS SDK (type-only imports excluded). */
function importedCommands(path: string): string[] {
  const source = read(path);
  const names: string[] = [];
  for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/[^']+'/g)) {
    for (const raw of m[1]!.split(',')) {
      const name = raw.trim();
      if (name && !name.startsWith('type ') && name.endsWith('Command')) names.push(name);
    }
  }
  return names;
}

/** DynamoDB SDK command (low-level or document client) → the IAM actions that authorise it. */
const DYNAMODB_ACTIONS: Record<string, string[]> = {
  GetCommand: ['GetItem'], GetItemCommand: ['GetItem'],
  PutCommand: ['PutItem'], PutItemCommand: ['PutItem'],
  UpdateCommand: ['UpdateItem'], UpdateItemCommand: ['UpdateItem'],
  DeleteCommand: ['DeleteItem'], DeleteItemCommand: ['DeleteItem'],
  QueryCommand: ['Query'], ScanCommand: ['Scan'],
  BatchGetCommand: ['BatchGetItem'], BatchGetItemCommand: ['BatchGetItem'],
  BatchWriteCommand: ['BatchWriteItem'], BatchWriteItemCommand: ['BatchWriteItem'],
  // Not IAM actions of their own: each part is authorised as its single-item action (below).
  TransactWriteCommand: [], TransactWriteItemsCommand: [],
  TransactGetCommand: ['GetItem'], TransactGetItemsCommand: ['GetItem'],
  DescribeTableCommand: ['DescribeTable'], CreateTableCommand: ['CreateTable'], UpdateTableCommand: ['UpdateTable'],
  DeleteTableCommand: ['DeleteTable'], DescribeTimeToLiveCommand: ['DescribeTimeToLive'], UpdateTimeToLiveCommand: ['UpdateTimeToLive'],
  DescribeContinuousBackupsCommand: ['DescribeContinuousBackups'], UpdateContinuousBackupsCommand: ['UpdateContinuousBackups'],
};
const TRANSACTION_PARTS: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };

function dynamodbActionsSentBy(path: string): string[] {
  const actions = new Set<string>();
  const commands = importedCommands(path);
  for (const command of commands) {
    const mapped = DYNAMODB_ACTIONS[command];
    if (!mapped) throw new Error(`${path} imports ${command}: add its IAM action(s) to DYNAMODB_ACTIONS in this test`);
    for (const action of mapped) actions.add(`dynamodb:${action}`);
  }
  if (commands.some((c) => c.startsWith('TransactWrite'))) {
    for (const m of read(path).matchAll(/\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g)) actions.add(`dynamodb:${TRANSACTION_PARTS[m[1]!]}`);
  }
  return [...actions].sort();
}

const snsActionsSentBy = (path: string) => importedCommands(path).map((c) => `sns:${c.replace(/Command$/, '')}`).sort();

// ---- what tables.ts defines -----------------------------------------------------------------------

const TABLE_ARN = 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}';
const TOPIC_ARNS = 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${SnsTopicPrefix}*';
const definitions = Object.values(TABLES) as TableDefinition[];
const tableArns = definitions.map((t) => `${TABLE_ARN}${t.name}`).sort();
const indexArns = definitions
  .flatMap((t) => [...(t.globalIndexes ?? []), ...(t.localIndexes ?? [])].map((i) => `${TABLE_ARN}${t.name}/index/${i.name}`))
  .sort();

describe('the runtime role (BotRole)', () => {
  it('has exactly the DynamoDB actions the store sends, and none that create, change or delete tables', () => {
    const sent = dynamodbActionsSentBy('infra/dynamodb/dynamodb-store.ts');
    expect(sent).toContain('dynamodb:DescribeTable'); // the start-up check
    expect(actionsOf(runtimeStatements, 'dynamodb')).toEqual(sent);
    for (const forbidden of ['CreateTable', 'UpdateTable', 'DeleteTable', 'UpdateTimeToLive', 'UpdateContinuousBackups', 'Scan', 'PartiQLSelect']) {
      expect(actionsOf(runtimeStatements, 'dynamodb')).not.toContain(`dynamodb:${forbidden}`);
    }
  });

  it('reaches exactly the tables and indexes of tables.ts under its prefix: no wildcard, none missing', () => {
    expect(resourcesOf(runtimeStatements, 'dynamodb')).toEqual([...tableArns, ...indexArns].sort());
    // Indexes are only queried.
    for (const statement of runtimeStatements) {
      const onIndexes = list(statement.Resource).map(arnText).some((arn) => arn.includes('/index/'));
      if (onIndexes) expect(list(statement.Action)).toEqual(['dynamodb:Query']);
    }
  });

  it('has exactly the SNS actions the notifier sends, on its own topic prefix only', () => {
    expect(actionsOf(runtimeStatements, 'sns')).toEqual(snsActionsSentBy('infra/email/sns-notifier.ts'));
    // Unsubscribe included: it is authorised on `<topic ARN>:<subscription id>`, under the prefix.
    expect(resourcesOf(runtimeStatements, 'sns')).toEqual([TOPIC_ARNS]);
  });

  it('has nothing else: one service per statement, no NotAction/NotResource, only the SSM agent policy attached', () => {
    for (const statement of runtimeStatements) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.NotAction).toBeUndefined();
      expect(statement.NotResource).toBeUndefined();
      const services = new Set((list(statement.Action) as string[]).map((a) => a.split(':')[0]));
      expect(services.size).toBe(1);
      expect(['dynamodb', 'sns']).toContain([...services][0]);
    }
    expect(list(runtimeRole.Properties.ManagedPolicyArns).map(arnText)).toEqual(['arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore']);
  });
});

describe('the operator policy (db:create)', () => {
  it('has what db:create sends, on exactly the tables, and is attached to nothing in the stack', () => {
    // db:create runs admin.ts (tables) and migrate-alerts.ts (alerts saved by an earlier release).
    // deleteTables (tests and local resets only) is the one admin.ts function no deployment runs.
    const sent = [...new Set(['infra/dynamodb/admin.ts', 'infra/dynamodb/migrate-alerts.ts'].flatMap(dynamodbActionsSentBy))]
      .filter((a) => a !== 'dynamodb:DeleteTable')
      .sort();
    expect(sent).toEqual(expect.arrayContaining(['dynamodb:CreateTable', 'dynamodb:UpdateTable', 'dynamodb:UpdateContinuousBackups', 'dynamodb:Scan']));
    expect(actionsOf(operatorStatements, 'dynamodb')).toEqual(sent);
    expect(actionsOf(operatorStatements, 'dynamodb')).not.toContain('dynamodb:DeleteTable');
    expect(resourcesOf(operatorStatements, 'dynamodb')).toEqual(tableArns);
    // Items only in the coins table (the seed) and the alerts table (the migration, which alone scans).
    for (const statement of operatorStatements) {
      const actions = list(statement.Action) as string[];
      const resources = list(statement.Resource).map(arnText);
      if (actions.includes('dynamodb:Scan')) expect(resources).toEqual([`${TABLE_ARN}price-alerts`]);
      if (actions.some((a) => /Item$/.test(a))) expect([[`${TABLE_ARN}tracked-coins`], [`${TABLE_ARN}price-alerts`]]).toContainEqual(resources);
    }
    expect(operatorPolicy.Type).toBe('AWS::IAM::ManagedPolicy');
    for (const attachment of ['Roles', 'Users', 'Groups']) expect(operatorPolicy.Properties[attachment]).toBeUndefined();
    expect(JSON.stringify(runtimeRole)).not.toContain('OperatorPolicy');
  });
});

describe('the whole template', () => {
  it('has no wildcard action anywhere', () => {
    const actions: string[] = [];
    const walk = (value: CfnValue): void => {
      if (Array.isArray(value)) return value.forEach(walk);
      if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          if (key === 'Action' || key === 'NotAction') actions.push(...(list(inner) as string[]));
          walk(inner);
        }
      }
    };
    walk(template);
    expect(actions.length).toBeGreaterThan(10);
    expect(actions.filter((a) => typeof a !== 'string' || a.includes('*'))).toEqual([]);
  });

  it('keeps prefixes free of IAM wildcards', () => {
    const parameters = template.Parameters as Record<string, Json>;
    for (const name of ['TablePrefix', 'SnsTopicPrefix']) {
      const pattern = new RegExp(String(parameters[name]!.AllowedPattern));
      expect(pattern.test(String(parameters[name]!.Default))).toBe(true);
      expect(pattern.test('cryptopulse-*')).toBe(false);
      expect(pattern.test('cryptopulse-?')).toBe(false);
    }
  });
});

describe('the instance', () => {
  const userData = (() => {
    const base64 = resources.BotInstance!.Properties.UserData as Json;
    return arnText(base64['Fn::Base64']!);
  })();
  const serviceUser = /^User=(\S+)$/m.exec(unit)?.[1];
  /** The script's commands, with `\` continuations joined and heredoc bodies left out. */
  const commands = (() => {
    const out: string[] = [];
    let heredoc: string | undefined;
    for (const line of userData.replace(/\\\n/g, ' ').split('\n')) {
      if (heredoc) {
        if (line.trim() === heredoc) heredoc = undefined;
        continue;
      }
      const start = /<<-?\s*'?(\w+)'?/.exec(line);
      if (start) heredoc = start[1];
      if (line.trim() && !line.trim().startsWith('#')) out.push(line.trim());
    }
    return out;
  })();

  it('runs the bot as an unprivileged service user with a hardened unit', () => {
    expect(serviceUser).toBeDefined();
    expect(serviceUser).not.toBe('root');
    expect(unit).toMatch(/^Group=cryptopulse$/m);
    for (const setting of ['NoNewPrivileges=true', 'ProtectSystem=strict', 'ProtectHome=true', 'PrivateTmp=true', 'CapabilityBoundingSet=']) {
      expect(unit).toMatch(new RegExp(`^${setting}$`, 'm'));
    }
    // The user data makes the same user, without a login shell.
    expect(commands.some((c) => /^(id \S+ \|\| )?useradd .*--system.*--shell \/sbin\/nologin/.test(c) && c.endsWith(` ${serviceUser}`))).toBe(true);
  });

  it('never runs npm, npx or git as root, and leaves db:create to the operator', () => {
    const asUser = new RegExp(`^(sudo -u ${serviceUser} |runuser -u ${serviceUser} )`);
    const npm = commands.filter((c) => /\b(npm|npx|git clone)\b/.test(c));
    expect(npm.some((c) => /\bnpm ci\b/.test(c))).toBe(true);
    expect(npm.filter((c) => !asUser.test(c))).toEqual([]);
    expect(commands.filter((c) => c.includes('db:create'))).toEqual([]);
  });

  it('writes the listening host into the configuration', () => {
    expect(userData).toMatch(/^HOST=\$\{WebhookHost\}$/m);
    expect(unit).toMatch(/^WorkingDirectory=\/opt\/cryptopulse\/app$/m);
    expect(userData).toContain('/opt/cryptopulse/app');
  });
});

describe('the template reader (test/support/cfn-yaml.ts)', () => {
  it('reads short-form tags, flow collections and block scalars as CloudFormation does', () => {
    const parsed = parseCfnYaml([
      'A:',
      '  - !Ref Thing   # a comment',
      "  - !GetAtt Group.GroupId",
      '  - { Service: ec2.amazonaws.com }',
      "  - [!Ref X, 'it''s', 3]",
      'B:',
      '  Fn::Base64: !Sub |',
      '    #!/bin/bash',
      '    echo ${AWS::Region}',
      'C: >-',
      '  folded',
      '  text',
    ].join('\n'));
    expect(parsed).toEqual({
      A: [{ Ref: 'Thing' }, { 'Fn::GetAtt': ['Group', 'GroupId'] }, { Service: 'ec2.amazonaws.com' }, [{ Ref: 'X' }, "it's", 3]],
      B: { 'Fn::Base64': { 'Fn::Sub': '#!/bin/bash\necho ${AWS::Region}\n' } },
      C: 'folded text',
    });
  });

  it('refuses what it does not understand instead of guessing', () => {
    expect(() => parseCfnYaml('A: !Unknown x')).toThrow(/Unresolved tag: !Unknown/);
    expect(() => parseCfnYaml('A: 1\nA: 2')).toThrow(/Map keys must be unique/);
    expect(() => parseCfnYaml('A: [1, 2')).toThrow(/template/);
  });
});
