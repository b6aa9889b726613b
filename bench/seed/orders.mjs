// The seed tutorial's orders service (../shared/seeds, "5.4 Orders Service"), as written there but
// for the addresses, which the seed capacity bench passes in (bench/lib/seedCapacityBench.ts), and
// the ready line it waits for: a
// consumer with no prefetch limit that inserts a PENDING row per event and acks it.
import express from 'express';
import pkg from 'pg';
import amqp from 'amqplib';
const { Pool } = pkg;

const app = express();
const pool = new Pool({ connectionString: process.env.SEED_POSTGRES_URL });

async function consume() {
  const conn = await amqp.connect(process.env.SEED_AMQP_URL);
  const ch = await conn.createChannel();
  await ch.assertQueue('cartCheckedOut');
  ch.consume('cartCheckedOut', async (msg) => {
    const evt = JSON.parse(msg.content.toString());
    await pool.query('INSERT INTO orders(userId,status) VALUES ($1,$2)', [evt.userId, 'PENDING']);
    console.log('Order created for', evt.userId);
    ch.ack(msg);
  });
  console.log('Orders consumer ready');
}
consume();

app.get('/orders', async (req, res) => {
  const result = await pool.query('SELECT * FROM orders');
  res.json(result.rows);
});

app.listen(Number(process.env.SEED_PORT), () => console.log('Orders service running'));
