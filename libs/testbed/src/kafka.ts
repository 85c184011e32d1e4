import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exists, produce, seconds, type Progress } from './artifacts.js';
import type { KafkaEndpoint } from './endpoints.js';
import { cacheRoot, serverDir } from './paths.js';
import { LOOPBACK, isPortOpen, withFreePorts } from './ports.js';
import { launchRestartable, ServerProcess, type RestartableServer } from './server-process.js';
import { INSTALL_JAVA, requireTool, runTool } from './tools.js';

/** Passed to pom.xml as -Dkafka.version, so this constant is the one place to upgrade. */
export const KAFKA_VERSION = '4.1.1';

const POM = fileURLToPath(new URL('../pom.xml', import.meta.url));

export interface KafkaServer extends RestartableServer {
  readonly endpoint: KafkaEndpoint;
  readonly logFile: string;
}

/** The broker's jars in the cache, fetched from Maven Central on first use. */
export async function kafkaLibs(progress?: Progress): Promise<string> {
  const libs = join(cacheRoot(), 'kafka', KAFKA_VERSION, 'libs');
  if (await exists(libs)) return libs;
  await requireTool('java', INSTALL_JAVA);
  const mvn = await requireTool('mvn', INSTALL_JAVA);
  const started = Date.now();
  progress?.(`kafka ${KAFKA_VERSION}: fetching the broker's jars with Maven into ${libs}`);
  await produce(libs, async (staging) => {
    const jars = join(staging, 'libs');
    await runTool(
      mvn,
      [
        '-B',
        '-Dstyle.color=never',
        '-f',
        POM,
        `-Dkafka.version=${KAFKA_VERSION}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${jars}`,
      ],
      { echo: progress !== undefined },
    );
    return jars;
  });
  progress?.(`kafka ${KAFKA_VERSION}: jars fetched in ${seconds(started)}`);
  return libs;
}

// Only to the console, which the watchdog writes to the server's log file. Kafka ships a YAML
// configuration that would need a YAML library on the class path.
const LOG4J = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
`;

function serverProperties(broker: number, controller: number, dataDir: string): string {
  return `# Single-node KRaft on loopback. A static voter set, so the storage is formatted without
# --standalone (that flag is for a dynamic quorum, controller.quorum.bootstrap.servers).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${LOOPBACK}:${controller}
listeners=PLAINTEXT://${LOOPBACK}:${broker},CONTROLLER://${LOOPBACK}:${controller}
advertised.listeners=PLAINTEXT://${LOOPBACK}:${broker},CONTROLLER://${LOOPBACK}:${controller}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
# One replica of everything; one partition for internal topics makes the first group join fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.partitions=1
# As in production, topics exist only when created: code that forgets to create one fails here.
auto.create.topics.enable=false
`;
}

/** A Kafka cluster id: 16 random bytes in URL-safe base64 (Kafka's Uuid), not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Starts a single-node Apache Kafka (KRaft) broker on loopback ports. */
export async function startKafka(options: { name?: string } = {}): Promise<KafkaServer> {
  const java = await requireTool('java', INSTALL_JAVA);
  const libs = await kafkaLibs();
  const name = options.name ?? 'kafka';
  const dir = await serverDir(name);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, `${name}.log`);
  const properties = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  await writeFile(log4j, LOG4J);
  const jvm = ['-Xmx512m', '-XX:+ExitOnOutOfMemoryError', `-Dlog4j2.configurationFile=${log4j}`];
  const classPath = ['-cp', join(libs, '*')];
  const env = { PATH: process.env['PATH'], HOME: dir, LANG: 'C.UTF-8' };

  return withFreePorts(['broker', 'controller'], async ({ broker, controller }) => {
    await rm(dataDir, { recursive: true, force: true });
    await writeFile(properties, serverProperties(broker, controller, dataDir));
    const format = ['kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties];
    await runTool(java, [...jvm, ...classPath, ...format], { cwd: dir, env, logFile });
    const launch = (): Promise<ServerProcess> =>
      ServerProcess.launch({
        name,
        dir,
        command: java,
        args: [...jvm, ...classPath, 'kafka.Kafka', properties],
        env,
        logFile,
        stopSignal: 'SIGTERM',
        isReady: async (log) => log.includes('Kafka Server started') && (await isPortOpen(broker)),
        timeoutMs: 90_000,
      });
    const server = await launchRestartable(launch, dataDir);
    return Object.assign(server, {
      endpoint: { brokers: [`${LOOPBACK}:${String(broker)}`] },
      logFile,
    });
  });
}
