// A well-behaved amqplib connection that raw protocol tests keep open beside their bad clients:
// each check() publishes a message with a publisher confirm and reads it back with basic.get, so
// a test proves the broker still serves other connections after whatever the raw client did.

import amqp from 'amqplib';

export class WellBehavedClient {
  private sequence = 0;

  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
    private readonly queue: string,
  ) {}

  static async open(url: string): Promise<WellBehavedClient> {
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    return new WellBehavedClient(connection, channel, queue);
  }

  /** One confirmed publish and a basic.get of the same message; throws if either fails. */
  async check(): Promise<void> {
    const body = `probe ${++this.sequence}`;
    this.channel.sendToQueue(this.queue, Buffer.from(body));
    await this.channel.waitForConfirms();
    const message = await this.channel.get(this.queue, { noAck: true });
    if (message === false) throw new Error(`probe message '${body}' was not in its queue`);
    const got = message.content.toString();
    if (got !== body) throw new Error(`probe read '${got}', expected '${body}'`);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
