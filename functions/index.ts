// The app's entry (package.json "main"): start-up checks first, then every function group registers.
import { app } from '@azure/functions';
import { closeServices } from '../src/app/container.js';
import { settings } from '../src/config.js';
import './health.js';
import './products.js';
import './cart.js';
import './orders.js';
import './payments.js';
import './notFound.js';

// Fail the worker at start-up, with one line naming the setting, rather than on the first request.
settings();
app.hook.appTerminate(() => closeServices());
