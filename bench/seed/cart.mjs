// The seed tutorial's cart service (../shared/seeds, "5.3 Cart Service"), as written there but for
// the addresses, which the seed capacity bench passes in (bench/lib/seedCapacityBench.ts), and the
// ready line it waits for. Kept as the seed has it on purpose: no auth, no validation, a transient
// publish without confirms, and a checkout before the channel is open crashes the process.
import express from 'express';
import Redis from 'ioredis';
import amqp from 'amqplib';
import bodyParser from 'body-parser';

const app = express(); app.use(bodyParser.json());
const redis = new Redis(process.env.SEED_REDIS_URL);
let channel;

async function connectRabbit() {
  const conn = await amqp.connect(process.env.SEED_AMQP_URL);
  channel = await conn.createChannel();
  await channel.assertQueue('cartCheckedOut');
  console.log('Cart publisher ready');
}
connectRabbit();

app.post('/cart/add', async (req, res) => {
  const { userId, productId } = req.body;
  await redis.sadd(`cart:${userId}`, productId);
  res.json({ status: 'added' });
});

app.get('/cart/:userId', async (req, res) => {
  const items = await redis.smembers(`cart:${req.params.userId}`);
  res.json(items);
});

app.post('/cart/checkout', async (req, res) => {
  const { userId } = req.body;
  const event = { userId, time: Date.now() };
  channel.sendToQueue('cartCheckedOut', Buffer.from(JSON.stringify(event)));
  res.json({ status: 'checkout published' });
});

app.listen(Number(process.env.SEED_PORT), () => console.log('Cart service running'));
