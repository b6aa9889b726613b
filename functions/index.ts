// The app's entry (package.json "main"): telemetry first (it must patch pg, ioredis and amqplib
// before anything imports them), then start-up checks, then every function group registers.
import '../src/adapters/telemetry/register.js';
import { app } from '@azure/functions';
import { closeServices, services } from '../src/app/container.js';
import { prepareDependencies } from '../src/app/prepareDependencies.js';
import { settings } from '../src/config.js';
import './health.js';
import './products.js';
import './categories.js';
import './cart.js';
import './orders.js';
import './payments.js';
import './notifications.js';
import './watchdog.js';
import './docs.js';
import './routeNotFound.js';

// Fail the worker at start-up, with one line naming the setting, rather than on the first request.
settings();
app.hook.appStart(() => prepareDependencies(services()));
app.hook.appTerminate(() => closeServices());
